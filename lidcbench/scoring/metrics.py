"""Classification metrics on nodule-level scores, with their uncertainty.

Pure functions of label and score arrays: no cohort, no records. Undefined
values (a sensitivity without malignant nodules, an AUC with one class) are
``None``, so every result is JSON-ready as it stands.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

THRESHOLD = 0.5  # a probability of 0.5 or more counts as malignant, as in the paper
CONFIDENCE = 0.95
N_RESAMPLES = 2000
BOOTSTRAP_SEED = 20190101  # fixed so that every interval, and every leaderboard, is repeatable


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def classification_metrics(labels, scores, threshold: float = THRESHOLD) -> dict[str, float | int | None]:
    """Accuracy, sensitivity, specificity at ``threshold`` and ROC AUC (scikit-learn's)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    predicted = scores >= threshold
    positive = labels == 1
    tp, tn = int((predicted & positive).sum()), int((~predicted & ~positive).sum())
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return {
        "n": len(labels), "malignant": n_pos, "benign": n_neg,
        "accuracy": _ratio(tp + tn, len(labels)),
        "sensitivity": _ratio(tp, n_pos),
        "specificity": _ratio(tn, n_neg),
        "auc": float(roc_auc_score(labels, scores)) if n_pos and n_neg else None,
    }


def _resampled_aucs(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUC of each resample, given how often each nodule was drawn (``counts``: resamples x nodules).

    A weighted Mann-Whitney statistic over tie groups of the sorted scores, so
    no resample is sorted again; NaN where a resample drew one class only.
    """
    order = np.argsort(scores, kind="stable")
    malignant, scores, counts = labels[order], scores[order], counts[:, order]
    tie_starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
    positives = np.add.reduceat(counts * malignant, tie_starts, axis=1)
    negatives = np.add.reduceat(counts * (1 - malignant), tie_starts, axis=1)
    negatives_below = np.cumsum(negatives, axis=1) - negatives
    with np.errstate(divide="ignore", invalid="ignore"):
        return (positives * (negatives_below + 0.5 * negatives)).sum(axis=1) / (
            positives.sum(axis=1) * negatives.sum(axis=1))


def bootstrap_auc_ci(labels, scores, confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED, ids=None) -> list[float] | None:
    """Percentile bootstrap interval of the AUC, resampling nodules; seeded, so repeatable.

    A numpy bootstrap rather than ``scipy.stats.bootstrap``: a leaderboard
    needs dozens of intervals, and counting draws per nodule is about six
    times faster than re-ranking every resample. Resamples that drew a single
    class are left out (rare except in small strata). ``tests/test_score.py``
    checks the coverage on simulated nodules. ``ids`` (the nodule ids): the
    rows are put in id order first, so that the interval depends on which
    nodules were scored and how, not on the order the rows came in.
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    if ids is not None:
        order = np.argsort(np.asarray(ids), kind="stable")
        labels, scores = labels[order], scores[order]
    if len(labels) == 0 or labels.min() == labels.max():
        return None  # one class (or none): no AUC to bound
    rng = np.random.default_rng(seed)
    n = len(labels)
    aucs = []
    for start in range(0, n_resamples, 250):  # batches keep memory at 250 x n counts
        batch = min(250, n_resamples - start)
        draws = rng.integers(0, n, size=(batch, n)) + n * np.arange(batch)[:, None]
        counts = np.bincount(draws.ravel(), minlength=batch * n).reshape(batch, n)
        aucs.append(_resampled_aucs(labels, scores, counts))
    aucs = np.concatenate(aucs)
    aucs = aucs[np.isfinite(aucs)]
    low, high = np.quantile(aucs, [(1 - confidence) / 2, (1 + confidence) / 2])
    return [float(low), float(high)]


def _delong_components(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and structural components of DeLong et al. (1988) for stacked scores (k, n)."""
    positive = labels == 1
    pos, neg = scores[:, positive], scores[:, ~positive]
    m, n = pos.shape[1], neg.shape[1]
    ranks_all = stats.rankdata(np.hstack([pos, neg]), axis=1)
    ranks_pos, ranks_neg = stats.rankdata(pos, axis=1), stats.rankdata(neg, axis=1)
    auc = (ranks_all[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    per_positive = (ranks_all[:, :m] - ranks_pos) / n  # share of negatives each positive outranks
    per_negative = 1 - (ranks_all[:, m:] - ranks_neg) / m  # share of positives that outrank each negative
    return auc, per_positive, per_negative


NOT_ESTIMABLE_ONE_CLASS = "one class only: no AUC to compare"
NOT_ESTIMABLE_ZERO_VARIANCE = ("the AUCs differ but DeLong's estimated variance is zero (every nodule's "
                               "components are constant), so no p-value or interval can be estimated")


def delong_difference(labels, scores_a, scores_b, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Paired comparison of two AUCs on the same nodules (DeLong's test).

    Returns AUC a, AUC b, their difference a - b, its normal-theory interval
    and the two-sided p-value of "no difference". Where the estimated variance
    is zero the normal approximation says nothing, so the result states what
    is actually known: equal AUCs give p = 1 and the zero-width interval
    [0, 0]; different AUCs (e.g. 1.0 against a constant 0.5 on a handful of
    nodules) give ``p_value`` and ``ci`` ``None`` with ``not_estimable``
    saying why, never a p-value of 0 or 1 the data cannot support. One class
    only: every AUC is ``None``, also with ``not_estimable``.
    """
    labels = np.asarray(labels, dtype=int)
    scores = np.vstack([np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)])
    if len(np.unique(labels)) < 2:
        return {"auc_a": None, "auc_b": None, "difference": None, "ci": None, "p_value": None,
                "n": len(labels), "not_estimable": NOT_ESTIMABLE_ONE_CLASS}
    auc, per_positive, per_negative = _delong_components(labels, scores)
    m, n = per_positive.shape[1], per_negative.shape[1]
    # ddof 1 needs two of each class; one positive (or negative) contributes no spread of its own.
    cov_pos = np.cov(per_positive) / m if m > 1 else np.zeros((2, 2))
    cov_neg = np.cov(per_negative) / n if n > 1 else np.zeros((2, 2))
    covariance = cov_pos + cov_neg
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = float(auc[0] - auc[1])
    result = {"auc_a": float(auc[0]), "auc_b": float(auc[1]), "difference": difference, "n": len(labels)}
    if variance <= 1e-15:  # zero up to rounding: the normal approximation has nothing to scale by
        if np.isclose(difference, 0.0, atol=1e-12):
            return {**result, "difference": 0.0, "ci": [0.0, 0.0], "p_value": 1.0}
        return {**result, "ci": None, "p_value": None, "not_estimable": NOT_ESTIMABLE_ZERO_VARIANCE}
    se = float(np.sqrt(variance))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {**result, "ci": [float(difference - z * se), float(difference + z * se)],
            "p_value": float(2 * stats.norm.sf(abs(difference) / se))}


def auc_standard_error(labels, scores) -> tuple[float, float] | None:
    """AUC and its DeLong standard error on one set of nodules; None with one class only."""
    labels = np.asarray(labels, dtype=int)
    if len(np.unique(labels)) < 2:
        return None
    auc, per_positive, per_negative = _delong_components(labels, np.asarray(scores, dtype=float)[None, :])
    m, n = per_positive.shape[1], per_negative.shape[1]
    variance = (per_positive.var(ddof=1) / m if m > 1 else 0.0) + (per_negative.var(ddof=1) / n if n > 1 else 0.0)
    return float(auc[0]), float(np.sqrt(variance))


def unpaired_difference(labels_a, scores_a, labels_b, scores_b, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """AUC a - AUC b where the two are scored on different nodules or labels, so no pairing exists:
    a normal interval from the two DeLong variances added as if independent. Where the sets overlap
    (the same nodules under another label rule) the AUCs are positively correlated and this interval is
    wider than the truth: it errs towards "no difference"."""
    a, b = auc_standard_error(labels_a, scores_a), auc_standard_error(labels_b, scores_b)
    if a is None or b is None:
        return {"auc_a": None, "auc_b": None, "difference": None, "ci": None, "p_value": None,
                "not_estimable": NOT_ESTIMABLE_ONE_CLASS}
    difference, se = a[0] - b[0], float(np.hypot(a[1], b[1]))
    if se <= 1e-15:
        return {"auc_a": a[0], "auc_b": b[0], "difference": difference, "ci": None, "p_value": None,
                "not_estimable": NOT_ESTIMABLE_ZERO_VARIANCE}
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {"auc_a": a[0], "auc_b": b[0], "difference": difference, "ci": [difference - z * se, difference + z * se],
            "p_value": float(2 * stats.norm.sf(abs(difference) / se))}
