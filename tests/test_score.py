import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score
from synthetic_nodules import nodule_table, slice_predictions

from lidcbench.errors import PredictionsError
from lidcbench.plugins.predictions import Predictions
from lidcbench.protocol.attributes import ATTRIBUTES, RATINGS
from lidcbench.scoring.metrics import _resampled_aucs, bootstrap_auc_ci, classification_metrics, delong_difference
from lidcbench.scoring.score import compare, nodule_predictions, score_fold, summarize
from lidcbench.scoring.yardsticks import attribute_yardsticks, reader_vs_others


def test_classification_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.25, 300), 0, 1), 1)  # many ties, some 0.5
    predicted = (scores >= 0.5).astype(int)
    metrics = classification_metrics(labels, scores)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert metrics["sensitivity"] == pytest.approx(recall_score(labels, predicted))
    assert metrics["specificity"] == pytest.approx(recall_score(labels, predicted, pos_label=0))
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert (metrics["n"], metrics["malignant"]) == (300, int(labels.sum()))


def test_classification_metrics_by_hand():
    labels = [1, 1, 1, 0, 0]
    scores = [0.9, 0.5, 0.2, 0.5, 0.1]  # 0.5 counts as malignant
    metrics = classification_metrics(labels, scores)
    # tp 2 (0.9, 0.5), fn 1 (0.2), fp 1 (0.5), tn 1 (0.1)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["sensitivity"] == pytest.approx(2 / 3) and metrics["specificity"] == pytest.approx(1 / 2)
    # positive-negative pairs won: 0.9 beats both; 0.5 ties 0.5 (half) and beats 0.1; 0.2 beats 0.1 only
    assert metrics["auc"] == pytest.approx((2 + 1.5 + 1) / 6)
    one_class = classification_metrics([0, 0], [0.2, 0.7])
    assert one_class["auc"] is None and one_class["sensitivity"] is None and one_class["specificity"] == 0.5


def test_resampled_aucs_equal_scikit_learn_on_each_resample():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 60).astype(float)
    scores = np.round(rng.random(60) + 0.3 * labels, 1)
    draws = rng.integers(0, 60, size=(5, 60))
    counts = np.stack([np.bincount(d, minlength=60) for d in draws])
    expected = [roc_auc_score(labels[d], scores[d]) for d in draws]
    assert _resampled_aucs(labels, scores, counts) == pytest.approx(expected)


def test_bootstrap_interval_covers_the_true_auc_about_95_percent_of_the_time():
    # Binormal nodules: malignant scores N(d, 1), benign N(0, 1); the true AUC is Phi(d / sqrt 2).
    d, covered, simulations = 1.0, 0, 200
    true_auc = stats.norm.cdf(d / np.sqrt(2))
    rng = np.random.default_rng(2)
    for seed in range(simulations):
        labels = np.r_[np.ones(60), np.zeros(120)]
        scores = rng.normal(d * labels, 1.0)
        low, high = bootstrap_auc_ci(labels, scores, n_resamples=500, seed=seed)
        covered += low <= true_auc <= high
    assert 0.90 <= covered / simulations <= 0.99


def test_bootstrap_interval_is_repeatable_and_absent_for_one_class():
    labels = np.r_[np.ones(30), np.zeros(30)]
    scores = np.random.default_rng(8).normal(labels, 1.0)
    assert bootstrap_auc_ci(labels, scores) == bootstrap_auc_ci(labels, scores)
    assert bootstrap_auc_ci(labels, scores, seed=1) != bootstrap_auc_ci(labels, scores, seed=2)
    assert bootstrap_auc_ci(np.zeros(10), scores[:10]) is None


def test_delong_by_hand():
    # a ranks positives (0.9, 0.4) over negatives (0.5, 0.1): AUC 0.75; per-positive shares of negatives
    # below: 1, 0.5; per-negative shares of positives above: 0.5, 1; variance 0.125/2 + 0.125/2.
    # b ties everything: AUC 0.5, no variance, no covariance.
    result = delong_difference([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1], [0.5, 0.5, 0.5, 0.5])
    se = np.sqrt(0.125)
    assert (result["auc_a"], result["auc_b"]) == pytest.approx((0.75, 0.5))
    assert result["ci"] == pytest.approx([0.25 - 1.959964 * se, 0.25 + 1.959964 * se], rel=1e-5)
    assert result["p_value"] == pytest.approx(2 * stats.norm.sf(0.25 / se))


def test_delong_holds_its_level_under_no_difference_and_finds_a_real_one():
    rng = np.random.default_rng(3)
    rejections = 0
    for _ in range(200):
        labels = np.r_[np.ones(40), np.zeros(60)]
        signal = rng.normal(labels, 1.0)
        a, b = signal + rng.normal(0, 1, 100), signal + rng.normal(0, 1, 100)  # same quality, correlated
        rejections += delong_difference(labels, a, b)["p_value"] < 0.05
    assert 0.01 <= rejections / 200 <= 0.10
    labels = np.r_[np.ones(100), np.zeros(200)]
    good, poor = rng.normal(2 * labels, 1.0), rng.normal(0.3 * labels, 1.0)
    result = delong_difference(labels, good, poor)
    assert result["difference"] == pytest.approx(roc_auc_score(labels, good) - roc_auc_score(labels, poor))
    assert result["p_value"] < 1e-6 and result["ci"][0] > 0


def test_nodule_prediction_is_the_mean_over_slices():
    table = nodule_table(3, seed=4)
    first = table.iloc[0]
    rows = [{"nodule_id": first.nodule_id, "slice_index": k, "malignancy": p}
            for k, p in zip(first.slices, np.linspace(0.2, 0.6, len(first.slices)))]
    rows += [{"nodule_id": n, "slice_index": pd.NA, "malignancy": 0.9} for n in table.nodule_id[1:]]
    predictions = Predictions(pd.DataFrame(rows).astype({"slice_index": "Int64"}))
    nodules = nodule_predictions(predictions, table)
    assert nodules.loc[0, "malignancy"] == pytest.approx(0.4) and list(nodules.malignancy[1:]) == [0.9, 0.9]
    assert list(nodules.diameter_mm) == list(table.diameter_mean_mm)
    assert list(nodule_predictions(predictions, table, diameter="max").diameter_mm) == list(table.diameter_max_mm)
    with pytest.raises(PredictionsError, match="1 test nodules have no prediction"):
        nodule_predictions(Predictions(predictions.frame[predictions.frame.nodule_id != first.nodule_id]), table)


def test_attribute_error_is_on_the_original_scale():
    table = nodule_table(2, seed=5)
    frame = pd.DataFrame({"nodule_id": table.nodule_id, "slice_index": pd.array([pd.NA, pd.NA], dtype="Int64"),
                          "malignancy": [0.2, 0.8], "calcification": [0.0, 1.0], "subtlety": [0.5, 0.5]})
    metrics = score_fold(Predictions(frame), table, table)
    # calcification 0 -> rating 1, 1 -> rating 6; subtlety 0.5 -> rating 3
    expected_cal = np.mean([abs(1 - table.calcification[0]), abs(6 - table.calcification[1])])
    expected_sub = np.mean([abs(3 - s) for s in table.subtlety])
    assert metrics["attributes"]["calcification"]["error"] == pytest.approx(expected_cal)
    assert metrics["attributes"]["subtlety"]["error"] == pytest.approx(expected_sub)
    assert metrics["attributes"]["texture"]["error"] is None


def test_yardsticks_by_hand():
    test = pd.DataFrame({f"readers_{r.name}": [(1, 3, 5), (2, 2), (4,)] for r in RATINGS})
    for rating in ATTRIBUTES:
        test[rating.name] = [3.0, 2.0, 4.0]
    train = test.assign(**{r.name: [1.0, 1.0, 4.0] for r in ATTRIBUTES})  # training mean 2
    # one vs others: |1-4|, |3-3|, |5-2| for the first nodule, 0 and 0 for the second; the third has one reader
    assert reader_vs_others(test, "subtlety") == pytest.approx(6 / 5)
    yardsticks = attribute_yardsticks(test, train)["subtlety"]
    assert yardsticks["reader_vs_others"] == pytest.approx(6 / 5)
    assert yardsticks["inter_observer"] == pytest.approx((2 + 4 + 2 + 0) / 4)
    assert yardsticks["constant_value"] == 2.0
    assert yardsticks["constant"] == pytest.approx((1 + 0 + 2) / 3)


def test_size_strata_split_at_10_mm():
    table = nodule_table(40, seed=6)
    table.loc[0, "diameter_mean_mm"] = 10.0  # on the boundary: belongs to ">= 10 mm"
    metrics = score_fold(slice_predictions(table, seed=6), table, table)
    by_size = metrics["by_size"]
    assert by_size["under_10mm"]["n"] == int((table.diameter_mean_mm < 10).sum())
    assert by_size["10mm_or_more"]["n"] == int((table.diameter_mean_mm >= 10).sum())
    large = nodule_predictions(slice_predictions(table, seed=6), table).query("diameter_mm >= 10")
    assert by_size["10mm_or_more"]["auc"] == pytest.approx(roc_auc_score(large.label, large.malignancy))


def test_summary_is_mean_and_std_over_folds_and_pooled_over_nodules():
    tables = [nodule_table(50, seed=s, prefix=f"F{s}-") for s in range(3)]
    folds, frames = {}, []
    for fold, table in enumerate(tables):
        predictions = slice_predictions(table, seed=fold, signal=0.5)
        folds[fold] = score_fold(predictions, table, pd.concat(tables[:fold] + tables[fold + 1:]))
        frames.append(nodule_predictions(predictions, table))
    nodules = pd.concat(frames, ignore_index=True)
    summary = summarize(folds, nodules)
    aucs = [folds[f]["classification"]["auc"] for f in range(3)]
    assert summary["classification"]["auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert summary["classification"]["auc"]["std"] == pytest.approx(np.std(aucs, ddof=1))
    assert summary["pooled"]["auc"] == pytest.approx(roc_auc_score(nodules.label, nodules.malignancy))
    low, high = summary["pooled"]["auc_ci"]
    assert low < summary["pooled"]["auc"] < high
    errors = [folds[f]["attributes"]["margin"]["error"] for f in range(3)]
    assert summary["attributes"]["margin"]["error"]["mean"] == pytest.approx(np.mean(errors))


def test_compare_needs_the_same_nodules():
    table = nodule_table(30, seed=7)
    a = nodule_predictions(slice_predictions(table, seed=1), table)
    b = nodule_predictions(slice_predictions(table, seed=2, signal=0.2), table)
    result = compare(a, b)
    expected = roc_auc_score(a.label, a.malignancy) - roc_auc_score(b.label, b.malignancy)
    assert result["difference"] == pytest.approx(expected)
    with pytest.raises(PredictionsError, match="same nodules"):
        compare(a, b.iloc[1:])


def test_delong_with_zero_variance_and_different_aucs_is_not_estimable_not_p_one():
    # a separates perfectly (AUC 1), b is constant (AUC 0.5): every structural component is constant,
    # so DeLong's variance is zero; the old code reported "difference 0.5, p 1.0".
    labels = [1, 1, 1, 0, 0, 0]
    result = delong_difference(labels, [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], [0.5] * 6)
    assert (result["auc_a"], result["auc_b"], result["difference"]) == pytest.approx((1.0, 0.5, 0.5))
    assert result["p_value"] is None and result["ci"] is None
    assert "zero" in result["not_estimable"]
    reversed_ = delong_difference(labels, [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    assert reversed_["difference"] == pytest.approx(1.0)  # AUC 1 against AUC 0
    assert reversed_["p_value"] is None and reversed_["not_estimable"]


def test_delong_with_zero_variance_and_equal_aucs_gives_p_one():
    labels = [1, 1, 0, 0]
    result = delong_difference(labels, [0.9, 0.8, 0.2, 0.1], [0.7, 0.6, 0.5, 0.4])  # both AUC 1
    assert result["difference"] == 0.0 and result["p_value"] == 1.0 and result["ci"] == [0.0, 0.0]
    assert "not_estimable" not in result


def test_delong_with_one_class_has_no_aucs():
    result = delong_difference([1, 1, 1], [0.9, 0.2, 0.4], [0.1, 0.5, 0.3])
    assert result["auc_a"] is None and result["p_value"] is None and result["n"] == 3
    assert "one class" in result["not_estimable"]


def test_delong_with_a_single_positive_is_finite():
    labels = [1, 0, 0, 0, 0]
    result = delong_difference(labels, [0.9, 0.1, 0.5, 0.3, 0.95], [0.2, 0.1, 0.5, 0.3, 0.4])
    assert result["auc_a"] == pytest.approx(0.75) and result["auc_b"] == pytest.approx(0.25)
    assert result["p_value"] is not None and np.isfinite(result["p_value"])


def test_bootstrap_interval_does_not_depend_on_row_order():
    from lidcbench.scoring.score import pooled_classification

    rng = np.random.default_rng(4)
    labels = np.r_[np.ones(40), np.zeros(60)].astype(int)
    nodules = pd.DataFrame({"nodule_id": [f"n{i:03d}" for i in range(100)], "label": labels,
                            "malignancy": rng.normal(labels, 1.0)})
    shuffled = nodules.sample(frac=1.0, random_state=1)
    assert pooled_classification(nodules)["auc_ci"] == pooled_classification(shuffled)["auc_ci"]
