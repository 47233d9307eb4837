"""RFE importance and t-SNE figures on synthetic attribute tables: no database, seconds."""
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from lidcbench.errors import AnalysisError
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES, ATTRIBUTES
from lidcbench.reports import paper
from lidcbench.reports.analysis.inputs import COLUMNS, Inputs
from lidcbench.reports.analysis.rfe import above_average, eliminate, recursive_feature_elimination
from lidcbench.reports.analysis.tsne import embeddings
from lidcbench.reports.analysis.view import paper_row
from lidcbench.reports.analysis.write import write_rfe, write_tsne


def synthetic_inputs(n=150, folds=5, seed=0) -> Inputs:
    """Subtlety decides the label, lobulation helps a little, texture is pure noise; the rest is weak noise."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({name: rng.normal(size=n) for name in ATTRIBUTE_NAMES})
    table["texture"] = rng.normal(size=n)
    score = 3 * table["subtlety"] + 0.8 * table["lobulation"] + rng.normal(scale=0.5, size=n)
    table["label"] = (score > 0).astype(int)
    table["nodule_id"] = [f"S{i:04d}" for i in range(n)]
    table["fold"] = np.arange(n) % folds
    return Inputs("synthetic", "synthetic attributes", "none", table[list(COLUMNS)])


def test_the_attribute_that_decides_the_label_ranks_first_and_noise_goes_early():
    rfe = recursive_feature_elimination(synthetic_inputs())
    names = list(rfe.attributes)
    assert rfe.folds == (0, 1, 2, 3, 4) and rfe.n_train == (120,) * 5
    assert (rfe.rank[:, names.index("subtlety")] == 1).all()
    assert (rfe.rank[:, names.index("lobulation")] == 2).all()
    assert rfe.ranking[names.index("subtlety")] == 1
    assert rfe.mean[names.index("subtlety")] > 0.5
    assert rfe.ranking[names.index("texture")] > 2
    for ranks in rfe.rank:  # each repetition's elimination order is a permutation of 1..8
        assert sorted(ranks) == list(range(1, 9))
    assert rfe.above_average[names.index("subtlety")] and not rfe.above_average[names.index("texture")]
    assert "texture" in rfe.below_average and "subtlety" not in rfe.below_average


def test_importances_are_nested_shares_of_the_coefficients_that_sum_to_one():
    inputs = synthetic_inputs(seed=3)
    features, labels = inputs.table[list(ATTRIBUTE_NAMES)].to_numpy(), inputs.table["label"].to_numpy()
    rank, importance = eliminate(features, labels)
    assert importance.sum() == pytest.approx(1.0) and (importance >= 0).all()
    # By hand: the first removed takes its share of |coefficients| of the full model; the second removed
    # takes its share in the model without the first, of what the first left; and so on.
    scaled = StandardScaler().fit_transform(features)
    to_share = 1.0
    for step in (8, 7):
        kept = np.flatnonzero(rank <= step)
        magnitude = np.abs(LogisticRegression(max_iter=1000).fit(scaled[:, kept], labels).coef_[0])
        removed = np.flatnonzero(rank == step)[0]
        share = magnitude[list(kept).index(removed)] / magnitude.sum()
        assert magnitude[list(kept).index(removed)] == pytest.approx(magnitude.min())
        assert importance[removed] == pytest.approx(share * to_share)
        to_share *= 1 - share
    rfe = recursive_feature_elimination(inputs)
    assert rfe.importance.sum(axis=1) == pytest.approx(np.ones(5))
    assert rfe.mean.mean() == pytest.approx(1 / 8)


def test_two_attributes_split_by_their_coefficients():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 2))
    labels = (features[:, 0] + 0.3 * features[:, 1] + rng.normal(scale=0.3, size=200) > 0).astype(int)
    rank, importance = eliminate(features, labels)
    magnitude = np.abs(LogisticRegression(max_iter=1000).fit(StandardScaler().fit_transform(features),
                                                             labels).coef_[0])
    assert list(rank) == [1, 2]
    # The second is removed with its share |c2| / (|c1| + |c2|); the first keeps the rest, |c1| / (|c1| + |c2|).
    assert importance == pytest.approx(magnitude / magnitude.sum())


def test_the_papers_above_average_marks_follow_from_its_printed_importances():
    mean, _, ranking, above = paper_row()
    shorts = [a.short for a in ATTRIBUTES]
    assert [s for s, mark in zip(shorts, above) if mark] == ["Sub", "Cal", "Mar", "Lob", "Spi"]  # Table IV's ✓
    assert sorted(ranking) == list(range(1, 9)) and mean.sum() == pytest.approx(0.99)
    assert list(above_average([0.1, 0.3, 0.2])) == [False, True, False]
    assert set(paper.TABLE_IV) == set(ATTRIBUTE_NAMES)


def test_rfe_needs_two_folds_with_both_labels():
    one_fold = synthetic_inputs(folds=1)
    with pytest.raises(AnalysisError, match="at least two folds are needed"):
        recursive_feature_elimination(one_fold)
    inputs = synthetic_inputs()
    table = inputs.table.assign(label=(inputs.table["fold"] == 0).astype(int))  # fold 0 is all the malignant
    with pytest.raises(AnalysisError, match="all of one label"):
        recursive_feature_elimination(Inputs("x", "x", "none", table))


def test_tsne_pages_name_their_inputs_and_regenerate_byte_identical(tmp_path):
    written = []
    for out in (tmp_path / "a", tmp_path / "b"):
        inputs = synthetic_inputs(n=120)
        rfe = recursive_feature_elimination(inputs)
        pair = embeddings(inputs, rfe)
        written.append(write_rfe(rfe, out) + write_tsne(rfe, pair, out))
    first, again = written
    assert [p.name for p in first] == ["rfe-synthetic.md", "rfe-synthetic.png", "tsne-synthetic.md",
                                       "tsne-synthetic.png"]
    for one, other in zip(first, again):
        assert one.read_bytes() == other.read_bytes(), one.name
    below, every = pair
    assert below.attributes == rfe.below_average and every.attributes == ATTRIBUTE_NAMES
    assert below.coordinates.shape == every.coordinates.shape == (120, 2)
    assert every.neighbour_agreement > below.neighbour_agreement  # subtlety, which decides, is only on the right
    page = first[2].read_text()
    shorts = {a.name: a.short for a in ATTRIBUTES}
    assert f"| left | {', '.join(shorts[n] for n in rfe.below_average)} |" in page
    assert "tsne-synthetic.png" in page and first[3].read_bytes()[:4] == b"\x89PNG"
    assert "| Sub | " in first[0].read_text() and "(paper)" in first[0].read_text()
