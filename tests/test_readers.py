"""One radiologist against the others, calibration and galleries (lidcbench.scoring.readers)."""
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score
from synthetic_nodules import nodule_table, slice_predictions

from lidcbench.cli import main
from lidcbench.patches import Patches
from lidcbench.protocol.attributes import RATINGS
from lidcbench.reports import gallery as gallery_module
from lidcbench.reports import readers_page as view
from lidcbench.reports.gallery import gallery_from_patches, most_confident_mistakes, wrong_everywhere
from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.rules import Protocol
from lidcbench.reports.regenerate import regenerate
from lidcbench.results.records import new_record, read_record, write_record
from lidcbench.scoring.readers.bootstrap import auc_by_nodule, rates_by_nodule
from lidcbench.scoring.readers.calibration import bin_counts, calibration, expected_calibration_error
from lidcbench.scoring.readers.comparison import compare_with_readers
from lidcbench.scoring.readers.pairs import labelled, reader_pairs
from lidcbench.scoring.score import nodule_predictions, score_fold


def hand_made_cohort() -> pd.DataFrame:
    """Four nodules with known malignancy ratings; the other ratings follow malignancy."""
    malignancy = {"A": (1, 2, 5), "B": (4, 4), "C": (3,), "D": (2, 4, 4, 5)}
    rows = []
    for nodule_id, ratings in malignancy.items():
        row = {"nodule_id": nodule_id}
        for rating in RATINGS:
            row[f"readers_{rating.name}"] = tuple(min(r, rating.high) for r in ratings)
        rows.append(row)
    return pd.DataFrame(rows)


def test_leave_one_reader_out_labels_by_hand():
    pairs = reader_pairs(hand_made_cohort())
    # A: reader 0 against (2, 5) -> 3.5 malignant; reader 1 against (1, 5) -> exactly 3, left out;
    # reader 2 against (1, 2) -> 1.5 benign. B: each against 4, malignant. C has one reader: no pair.
    # D: reader 0 against (4, 4, 5) malignant; readers 1, 2 against mean 11/3 malignant; reader 3 against
    # (2, 4, 4) -> 10/3 malignant.
    got = [(p.nodule_id, p.reader, p.rating, p.others_malignancy, p.label) for p in pairs.itertuples()]
    expected = [("A", 0, 1, 3.5, 1.0), ("A", 1, 2, 3.0, np.nan), ("A", 2, 5, 1.5, 0.0),
                ("B", 0, 4, 4.0, 1.0), ("B", 1, 4, 4.0, 1.0),
                ("D", 0, 2, 13 / 3, 1.0), ("D", 1, 4, 11 / 3, 1.0), ("D", 2, 4, 11 / 3, 1.0),
                ("D", 3, 5, 10 / 3, 1.0)]
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    assert [g[3] for g in got] == pytest.approx([e[3] for e in expected])
    assert [g[4] for g in got] == pytest.approx([e[4] for e in expected], nan_ok=True)
    kept = labelled(pairs)
    assert len(kept) == 8 and ("A", 1) not in set(zip(kept.nodule_id, kept.reader))
    # attribute targets: the mean of the other readers (calcification up to 6, so the same numbers)
    assert pairs.loc[0, "others_calcification"] == pytest.approx(3.5)
    assert pairs.loc[0, "reader_calcification"] == 1.0


def test_the_median_protocol_labels_by_the_others_median():
    pairs = reader_pairs(hand_made_cohort(), aggregate="median")
    d3 = pairs[(pairs.nodule_id == "D") & (pairs.reader == 3)].iloc[0]
    assert d3.others_malignancy == 4.0 and d3.label == 1.0


@pytest.fixture(scope="module")
def synthetic():
    """Sixty nodules with 1-4 readers and predictions that follow the label, in two folds."""
    table = nodule_table(60, seed=3)
    nodules = nodule_predictions(slice_predictions(table, seed=1, signal=0.6), table)
    return table, nodules.assign(fold=np.arange(len(nodules)) % 2)


def test_reader_and_method_aucs_agree_with_scikit_learn_on_the_same_pairs(synthetic):
    table, nodules = synthetic
    comparison = compare_with_readers(table, [nodules])
    pairs = labelled(reader_pairs(table))
    assert comparison.pairs == len(pairs) and comparison.nodules == pairs.nodule_id.nunique()
    readers = comparison.readers
    assert readers["auc"] == pytest.approx(roc_auc_score(pairs.label, pairs.rating))
    at_4 = pairs.rating >= 4
    positive = pairs.label == 1
    assert readers["at_4"]["sensitivity"]["value"] == pytest.approx((at_4 & positive).sum() / positive.sum())
    assert readers["at_4"]["specificity"]["value"] == pytest.approx((~at_4 & ~positive).sum() / (~positive).sum())
    assert readers["at_3"]["accuracy"]["value"] == pytest.approx(((pairs.rating >= 3) == positive).mean())
    probability = pairs.nodule_id.map(nodules.set_index("nodule_id").malignancy)
    method = comparison.methods[0]
    assert method["auc"] == pytest.approx(roc_auc_score(pairs.label, probability))
    versus = method["versus_readers"]
    expected = roc_auc_score(pairs.label, probability) - roc_auc_score(pairs.label, pairs.rating)
    assert versus["difference"] == pytest.approx(expected)
    low, high = versus["ci"]
    assert low <= versus["difference"] <= high
    assert readers["ci"][0] <= readers["auc"] <= readers["ci"][1]


def _pairs_by_hand(table: pd.DataFrame) -> pd.DataFrame:
    """A second implementation of the leave-one-reader-out pairs: label by the others' mean, 3 left out."""
    rows = []
    for nodule in table.itertuples():
        ratings = nodule.readers_malignancy
        for reader, rating in enumerate(ratings if len(ratings) > 1 else ()):
            others = (sum(ratings) - rating) / (len(ratings) - 1)
            if others != 3:
                diameters = getattr(nodule, "reader_diameters_mm", None)
                rows.append({"nodule_id": nodule.nodule_id, "rating": rating, "label": int(others > 3),
                             "diameter": np.nan if diameters is None else diameters[reader]})
    return pd.DataFrame(rows)


def test_each_readers_own_diameter_is_scored_on_the_same_pairs(synthetic):
    table, nodules = synthetic
    rng = np.random.default_rng(5)
    table = table.assign(reader_diameters_mm=[tuple(rng.uniform(3, 30, len(r))) for r in table.readers_malignancy])
    comparison = compare_with_readers(table, [nodules])
    pairs = _pairs_by_hand(table)
    assert comparison.reader_diameter["n"] == len(pairs) == comparison.pairs
    assert comparison.reader_diameter["auc"] == pytest.approx(roc_auc_score(pairs.label, pairs.diameter))
    assert comparison.readers["auc"] == pytest.approx(roc_auc_score(pairs.label, pairs.rating))
    low, high = comparison.reader_diameter["ci"]
    assert low < comparison.reader_diameter["auc"] < high and high - low > 0.01
    assert comparison.single_reader == sum(len(r) == 1 for r in table.readers_malignancy) > 0
    # Without per-reader diameters there is no such row, and nothing else changes.
    bare = compare_with_readers(table.drop(columns="reader_diameters_mm"), [nodules])
    assert bare.reader_diameter == {} and bare.readers == comparison.readers


def test_a_method_that_scored_part_of_the_nodules_meets_the_readers_on_that_part_only(synthetic):
    table, nodules = synthetic
    part = nodules[nodules.nodule_id.isin(sorted(nodules.nodule_id)[::2])]  # every other nodule
    comparison = compare_with_readers(table, [nodules, part])
    pairs = _pairs_by_hand(table)
    scored = pairs[pairs.nodule_id.isin(part.nodule_id)]
    method_auc = roc_auc_score(scored.label, scored.nodule_id.map(part.set_index("nodule_id").malignancy))
    readers_auc = roc_auc_score(scored.label, scored.rating)
    row = comparison.methods[1]
    assert row["n"] == len(scored) < comparison.pairs
    assert row["versus_readers"]["difference"] == pytest.approx(method_auc - readers_auc)
    assert readers_auc != pytest.approx(comparison.readers["auc"], abs=1e-3)  # the part's readers differ from all


def _bootstrap_widths(pairs: pd.DataFrame, probability: pd.Series, resamples: int = 400) -> tuple[float, float]:
    """A second implementation of the nodule bootstrap of AUC(method) - AUC(readers): the width of its 95%
    interval when both AUCs use the same draw of nodules (paired), and when each has its own (unpaired)."""
    rng = np.random.default_rng(123)
    codes, nodules = pd.factorize(pairs.nodule_id)
    labels, ratings, scores = pairs.label.to_numpy(), pairs.rating.to_numpy(), probability.to_numpy()

    def auc(values, draw):
        weights = np.bincount(draw, minlength=len(nodules))[codes]
        kept = weights > 0
        return roc_auc_score(labels[kept], values[kept], sample_weight=weights[kept])

    paired, unpaired = [], []
    for _ in range(resamples):
        first, second = (rng.integers(0, len(nodules), len(nodules)) for _ in range(2))
        paired.append(auc(scores, first) - auc(ratings, first))
        unpaired.append(auc(scores, second) - auc(ratings, first))
    width = lambda values: float(np.subtract(*np.quantile(values, [0.975, 0.025])))  # noqa: E731
    return width(paired), width(unpaired)


def test_method_versus_readers_resamples_both_on_the_same_nodules():
    # Two readers per nodule who agree, or disagree widely (2 and 5); the method's probability is their mean.
    # Which disagreeing nodules a resample draws moves the method's AUC and the readers' together, so the
    # paired interval is far narrower than an unpaired one.
    rng = np.random.default_rng(2)
    table = nodule_table(300, seed=11)
    table = table[table.readers_subtlety.map(len) == 2].reset_index(drop=True)
    patterns = [(1, 1), (2, 2), (4, 4), (5, 5), (2, 5), (5, 2), (1, 4), (4, 1)]
    table["readers_malignancy"] = [patterns[c] for c in rng.integers(0, len(patterns), len(table))]
    nodules = pd.DataFrame({"nodule_id": table.nodule_id, "label": 0, "fold": 0,
                            "malignancy": table.readers_malignancy.map(lambda r: sum(r) / 10)})
    versus = compare_with_readers(table, [nodules]).methods[0]["versus_readers"]
    pairs = _pairs_by_hand(table)
    paired, unpaired = _bootstrap_widths(pairs, pairs.nodule_id.map(nodules.set_index("nodule_id").malignancy))
    assert unpaired > 2 * paired  # the construction separates the two
    low, high = versus["ci"]
    assert abs((high - low) - paired) < abs((high - low) - unpaired)
    assert high - low == pytest.approx(paired, rel=0.3)


def test_attributes_are_scored_on_the_readers_pairs_with_their_weights(synthetic):
    table, nodules = synthetic
    errors = compare_with_readers(table, [nodules]).attributes[0]["subtlety"]
    method_by_fold, readers_by_fold = [], []
    for _, part in nodules.groupby("fold"):
        ratings = table[table.nodule_id.isin(part.nodule_id)].set_index("nodule_id").readers_subtlety
        predicted = 1 + 4 * part.set_index("nodule_id").subtlety  # records hold attributes on [0, 1]
        method, readers = [], []
        for nodule_id, values in ratings.items():
            for index, value in enumerate(values if len(values) > 1 else ()):
                others = (sum(values) - value) / (len(values) - 1)
                method.append(abs(predicted[nodule_id] - others))
                readers.append(abs(value - others))
        method_by_fold.append(np.mean(method))
        readers_by_fold.append(np.mean(readers))
    assert errors["error"]["mean"] == pytest.approx(np.mean(method_by_fold))
    assert errors["error"]["std"] == pytest.approx(np.std(method_by_fold, ddof=1))
    assert errors["readers"]["mean"] == pytest.approx(np.mean(readers_by_fold))


def test_intervals_resample_nodules_not_pairs():
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, 80), rng.random(80)
    one_pair_each = auc_by_nodule(labels, scores, np.arange(80))[0]
    # Each nodule read three times, identically: the same nodules, so the same interval;
    # resampling pairs instead would narrow it by about sqrt(3).
    three = auc_by_nodule(np.repeat(labels, 3), np.repeat(scores, 3), np.repeat(np.arange(80), 3))[0]
    assert three["auc"] == pytest.approx(one_pair_each["auc"])
    assert three["ci"] == pytest.approx(one_pair_each["ci"])
    rates = rates_by_nodule(np.repeat(labels, 3), np.repeat(scores > 0.5, 3), np.repeat(np.arange(80), 3))
    single = rates_by_nodule(labels, scores > 0.5, np.arange(80))
    assert rates["sensitivity"]["ci"] == pytest.approx(single["sensitivity"]["ci"])
    assert single["sensitivity"]["ci"][1] - single["sensitivity"]["ci"][0] > 0.1


def test_calibration_agrees_with_scikit_learn():
    rng = np.random.default_rng(1)
    probabilities = rng.random(500)
    labels = (rng.random(500) < probabilities ** 2).astype(int)
    result = calibration(labels, probabilities)
    observed, predicted = calibration_curve(labels, probabilities, n_bins=10, strategy="quantile")
    assert result["brier"] == pytest.approx(brier_score_loss(labels, probabilities))
    assert result["curve"]["observed"] == pytest.approx(observed.tolist())
    assert result["curve"]["predicted"] == pytest.approx(predicted.tolist())
    assert result["curve"]["count"] == [50] * 10  # ten equal-count bins of 500 distinct probabilities
    # ECE by its definition: with equal bins, the plain mean of the ten gaps
    assert result["ece"] == pytest.approx(np.mean(np.abs(observed - predicted)))
    assert result["ece"] > 0.05  # probabilities squared: badly calibrated, and the number says so


def test_ece_weighs_unequal_bins_by_their_nodules():
    probabilities = np.array([0.1] * 6 + [0.9] * 2)  # ties: fewer, unequal bins
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    counts = bin_counts(probabilities)
    assert counts.sum() == 8 and len(counts) == 2
    expected = 6 / 8 * abs(1 / 6 - 0.1) + 2 / 8 * abs(1.0 - 0.9)
    assert expected_calibration_error(labels, probabilities) == pytest.approx(expected)


def hand_made_predictions() -> pd.DataFrame:
    # ten benign nodules from 0.95 down, ten malignant from 0.02 up; ties broken by id
    benign = [(f"B{i:02d}", 0, p) for i, p in enumerate([0.95, 0.9, 0.9, 0.8, 0.7, 0.6, 0.55, 0.51, 0.5, 0.49])]
    malignant = [(f"M{i:02d}", 1, p) for i, p in enumerate([0.02, 0.1, 0.1, 0.2, 0.3, 0.4, 0.45, 0.49, 0.5, 0.9])]
    frame = pd.DataFrame(benign + malignant, columns=["nodule_id", "label", "malignancy"])
    return frame.assign(diameter_mm=10.0)


def fake_patches(nodule_ids, slices=3, size=16) -> Patches:
    """Patches whose pixel value encodes the slice: the middle one is 0.5, the others 0 and 1."""
    values = np.linspace(0, 1, slices)
    images = np.concatenate([np.ones((slices, size, size), np.float32) * values[:, None, None] for _ in nodule_ids])
    return Patches(images=images, nodule_ids=np.repeat(np.array(nodule_ids), slices),
                   slice_indices=np.tile(np.arange(slices), len(nodule_ids)), source="fake", settings={}, key="k")


def test_the_gallery_holds_exactly_the_most_confident_mistakes(tmp_path, monkeypatch):
    predictions = hand_made_predictions()
    table = pd.DataFrame({"nodule_id": predictions.nodule_id, "diameter_mean_mm": 12.0,
                          "readers_malignancy": [(2, 3)] * 20})
    shown = {}
    original = gallery_module.write_gallery

    def spy(title, mistakes, images, table_, path):
        shown.update(images)
        original(title, mistakes, images, table_, path)

    monkeypatch.setattr(gallery_module, "write_gallery", spy)
    path = tmp_path / "gallery.png"
    mistakes = gallery_from_patches("test", predictions, fake_patches(predictions.nodule_id), table, path)
    # B08 (0.5) is a false positive, B09 (0.49) is not; M08 (0.5) and M09 are not false negatives
    assert mistakes["false positives"].nodule_id.tolist() == ["B00", "B01", "B02", "B03", "B04", "B05", "B06", "B07"]
    assert mistakes["false negatives"].nodule_id.tolist() == ["M00", "M01", "M02", "M03", "M04", "M05", "M06", "M07"]
    assert sorted(shown) == sorted([*mistakes["false positives"].nodule_id, *mistakes["false negatives"].nodule_id])
    assert all(float(image.mean()) == 0.5 for image in shown.values())  # the central slice of each
    assert path.read_bytes()[:4] == b"\x89PNG"
    fewer = most_confident_mistakes(predictions, n=3)
    assert fewer["false negatives"].nodule_id.tolist() == ["M00", "M01", "M02"]


def test_nodules_every_method_gets_wrong():
    first = hand_made_predictions()
    second = first.assign(malignancy=np.where(first.nodule_id == "B00", 0.1, first.malignancy))
    wrong = wrong_everywhere([first, second])
    assert "B00" not in wrong and "B01" in wrong and "M07" in wrong and "M08" not in wrong
    assert len(wrong) == 16  # 9 false positives (B00-B08) and 8 false negatives (M00-M07) in the first, less B00


@pytest.fixture(scope="module")
def cohort_records(cohort, folds, tmp_path_factory):
    """Records of two methods on real cohort nodules (two folds), made with the contours source's settings."""
    from lidcbench.running.fold import FoldJob, source_and_settings

    _, settings = source_and_settings(FoldJob("diameter", 0), 16)
    folder = tmp_path_factory.mktemp("cohort-records")
    for fold in (0, 1):
        train, test = folds.split(cohort, fold)
        for method, signal in (("strong", 0.8), ("diameter", 0.4)):
            predictions = slice_predictions(test, seed=fold, signal=signal, attributes=method == "strong")
            write_record(new_record(
                method=method, fold=fold, seed=0, profile="default", method_params={}, source="contours",
                source_settings=settings, protocol=cohort.protocol, folds_version=folds.version,
                nodules=nodule_predictions(predictions, test), metrics=score_fold(predictions, test, train),
                device="cpu", wall_time_s=1.0), folder)
    return folder


@pytest.fixture()
def no_rendering(cohort, monkeypatch):
    """The galleries' patches without rendering the whole cohort: value-coded fake patches."""
    patches = fake_patches(cohort.nodule_ids, slices=1)
    monkeypatch.setattr(view, "source_patches", lambda record, cohort_: patches)


def test_the_page_shows_readers_calibration_and_galleries_and_regenerates_byte_for_byte(
        cohort_records, no_rendering, tmp_path):
    first = regenerate(cohort_records, tmp_path / "a")
    again = regenerate(cohort_records, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in again]
    for a, b in zip(first, again):
        assert a.read_bytes() == b.read_bytes(), a.name
    names = [p.name for p in first]
    assert sum("-gallery-" in n for n in names) == 2 and any(n.endswith("-reliability.png") for n in names)
    text = first[0].read_text()
    assert "## One radiologist against the others" in text
    assert "| Readers, one vs the others, rating ≥ 4 as malignant |" in text
    # The numbers of the comparison, recomputed here from the cohort's readers with a second implementation.
    tested = pd.concat([read_record(p).nodule_frame() for p in sorted(cohort_records.rglob("fold*.json"))])
    cohort = load_cohort(Protocol())
    pairs = _pairs_by_hand(cohort.table[cohort.table.nodule_id.isin(tested.nodule_id)])
    count = f"{len(pairs)} ({pairs.nodule_id.nunique()}, {pairs.label.sum()})"
    rating_auc, size_auc = roc_auc_score(pairs.label, pairs.rating), roc_auc_score(pairs.label, pairs.diameter)
    assert f"| Readers, one vs the others, rating ≥ 3 as malignant | {count} | {rating_auc:.3f} [" in text
    own = "One reader's own diameter (their greatest diameter, mm) as the score"
    assert f"| {own} | {count} | {size_auc:.3f} [" in text
    for method, row in (("strong", "strong"), ("diameter", "diameter: the readers' mean diameter")):
        frame = pd.concat([read_record(p).nodule_frame() for p in sorted(cohort_records.rglob(f"{method}/*.json"))])
        auc = roc_auc_score(pairs.label, pairs.nodule_id.map(frame.set_index("nodule_id").malignancy))
        section = text.split("## One radiologist against the others")[1].split("\n## ")[0]
        assert f"| {row}" in section
        assert f", seed 0, probability ≥ 0.5 | {count} | {auc:.3f} [" in section.split(f"| {row}")[1].split("\n")[0]
    single = sum(len(r) == 1 for r in cohort.table[cohort.table.nodule_id.isin(tested.nodule_id)].readers_malignancy)
    assert f"has AUC {rating_auc:.3f}, and the same reader's own greatest diameter, used alone as the score, " \
           f"{size_auc:.3f}." in text
    assert f"nodules with a single reader ({single} test nodules)" in text and "(`contours`)" in text
    assert "ΔAUC vs readers [95% CI]" in text and "| Brier ↓ | ECE ↓ |" in text
    assert "## Attribute scores on the readers' pairs" in text and "Nodules every method gets wrong" in text
    for name in names:
        if "-gallery-" in name or name.endswith("-reliability.png"):
            assert f"({name})" in text


def test_a_gallery_whose_source_cannot_load_says_so_and_stale_galleries_go(cohort_records, tmp_path, monkeypatch):
    from lidcbench.errors import SourceError

    results = shutil.copytree(cohort_records, tmp_path / "results")
    out = tmp_path / "boards"
    monkeypatch.setattr(view, "source_patches", lambda record, cohort_: fake_patches(cohort_.nodule_ids, slices=1))
    assert sum("-gallery-" in p.name for p in regenerate(results, out)) == 2

    def no_dicom(record, cohort_):
        raise SourceError("no LIDC-IDRI DICOM folder is configured for the ct source")

    monkeypatch.setattr(view, "source_patches", no_dicom)
    written = regenerate(results, out)
    assert not any("-gallery-" in p.name for p in written)
    assert not any("-gallery-" in p.name for p in out.iterdir())  # the earlier galleries are gone
    assert "gallery unavailable (no LIDC-IDRI DICOM folder is configured" in written[0].read_text()


def test_records_of_unknown_nodules_say_the_comparison_is_unavailable(tmp_path):
    from test_records import make_record

    write_record(make_record("strong", fold=0), tmp_path / "results")
    page = regenerate(tmp_path / "results", tmp_path / "boards")[0]
    # The 30 unknown nodules among all scored on the page (the size baseline computed for it adds fold 0's).
    assert re.search(r"Not available for this page: 30 of the \d+ nodules scored here are not in the cohort",
                     page.read_text())


def test_score_prints_the_readers_and_writes_a_gallery(cohort, random_predictions_csv, tmp_path, capsys, monkeypatch):
    import lidcbench.patches.cache

    monkeypatch.setattr(lidcbench.patches.cache, "load_patches", lambda cohort_, *a, **k: fake_patches(cohort_.nodule_ids, 1))
    gallery = tmp_path / "mistakes.png"
    assert main(["score", str(random_predictions_csv), "--json", "--gallery", str(gallery)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["readers"]["readers"]["auc"] > 0.7  # readers agree with one another far beyond chance
    assert printed["readers"]["methods"][0]["auc"] == pytest.approx(0.5, abs=0.05)  # random predictions
    assert printed["calibration"]["brier"] is not None and gallery.read_bytes()[:4] == b"\x89PNG"
    assert main(["score", str(random_predictions_csv), "--gallery", str(tmp_path / "x.jpg")]) == 2


@pytest.fixture(scope="module")
def random_predictions_csv(cohort, tmp_path_factory):
    slices = cohort.slices()
    slices["malignancy"] = np.random.default_rng(0).random(len(slices))
    path = tmp_path_factory.mktemp("predictions") / "random.csv"
    slices.to_csv(path, index=False)
    return path


# Tests below were written for mutants that survived `tox -e mutation -- readers`: each expectation is
# computed here by hand or by NumPy, not by the code under test.

def test_the_median_of_the_other_readers_leaves_out_exactly_the_reader():
    pairs = reader_pairs(hand_made_cohort(), aggregate="median")
    expected = []
    for nodule_id, ratings in {"A": (1, 2, 5), "B": (4, 4), "D": (2, 4, 4, 5)}.items():
        for reader in range(len(ratings)):
            others = [r for position, r in enumerate(ratings) if position != reader]
            expected.append((nodule_id, reader, float(np.median(others))))
    got = [(p.nodule_id, p.reader, p.others_malignancy) for p in pairs.itertuples()]
    assert got == expected  # A reader 1: (1, 5) -> 3.0; D reader 2: (2, 4, 5) -> 4.0; D reader 0: (4, 4, 5)


def test_resamples_draw_every_nodule_and_as_many_resamples_as_asked():
    from lidcbench.scoring.readers.bootstrap import _nodule_draws

    batches = _nodule_draws(3, 601, seed=0)
    counts = np.concatenate(batches)
    assert counts.shape == (601, 3)
    assert (counts.sum(axis=1) == 3).all()  # each resample draws n nodules with replacement
    assert (counts.sum(axis=0) > 0).all()  # nodule 0 included: 1803 draws over 3 nodules


def test_a_percentile_interval_is_numpys_2_5_and_97_5_percentiles():
    from lidcbench.scoring.readers.bootstrap import interval

    values = np.random.default_rng(1).normal(size=1000)
    assert interval(values, 0.95) == pytest.approx(list(np.percentile(values, [2.5, 97.5])))
    assert interval(np.append(values, np.nan), 0.95) == pytest.approx(list(np.percentile(values, [2.5, 97.5])))
    assert interval(np.array([np.nan])) is None


def test_one_class_of_labels_has_no_auc():
    from lidcbench.scoring.readers.bootstrap import auc_by_nodule

    assert auc_by_nodule([1, 1, 1], [0.2, 0.5, 0.9], ["a", "b", "c"]) == ({"auc": None, "ci": None}, None)


def test_rates_and_their_intervals_agree_with_a_second_computation():
    from lidcbench.scoring.metrics import BOOTSTRAP_SEED, N_RESAMPLES
    from lidcbench.scoring.readers.bootstrap import _nodule_draws, rates_by_nodule

    rng = np.random.default_rng(4)
    groups = np.repeat([f"n{i:02d}" for i in range(40)], 2)  # two pairs per nodule
    labels = rng.integers(0, 2, len(groups))
    predicted = rng.random(len(groups)) < np.where(labels == 1, 0.7, 0.2)
    got = rates_by_nodule(labels, predicted, groups)
    right = predicted == labels.astype(bool)
    assert got["sensitivity"]["value"] == pytest.approx(right[labels == 1].mean())
    assert got["specificity"]["value"] == pytest.approx(right[labels == 0].mean())
    assert got["accuracy"]["value"] == pytest.approx(right.mean())
    # Each resample weighs a nodule's pairs by how often it was drawn (nodules in sorted order, as drawn).
    draws = np.concatenate(_nodule_draws(40, N_RESAMPLES, BOOTSTRAP_SEED))
    weights = draws[:, np.searchsorted(np.unique(groups), groups)]
    with np.errstate(divide="ignore", invalid="ignore"):
        sensitivity = (weights * (right & (labels == 1))).sum(1) / (weights * (labels == 1)).sum(1)
    sensitivity = sensitivity[np.isfinite(sensitivity)]
    assert len(draws) == N_RESAMPLES
    assert got["sensitivity"]["ci"] == pytest.approx(list(np.percentile(sensitivity, [2.5, 97.5])))


def test_the_methods_rates_on_the_pairs_call_malignant_from_a_probability_of_one_half(synthetic):
    table, nodules = synthetic
    nodules = nodules.assign(malignancy=np.where(np.arange(len(nodules)) % 3 == 0, 0.5, nodules["malignancy"]))
    method = compare_with_readers(table, [nodules]).methods[0]
    pairs = _pairs_by_hand(table)
    called = pairs.nodule_id.map(nodules.set_index("nodule_id").malignancy).to_numpy() >= 0.5  # 0.5 counts
    positive = pairs.label.to_numpy() == 1
    rates = method["at_threshold"]
    assert rates["sensitivity"]["value"] == pytest.approx((called & positive).sum() / positive.sum())
    assert rates["specificity"]["value"] == pytest.approx((~called & ~positive).sum() / (~positive).sum())
    assert rates["accuracy"]["value"] == pytest.approx((called == positive).mean())
