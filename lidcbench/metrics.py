"""Classification metrics on nodule-level scores, with their uncertainty.

Pure functions of label and score arrays: no cohort, no records. Undefined
values (a sensitivity without malignant nodules, an AUC with one class) are
``None``, so every result is JSON-ready as it stands.
"""
from __future__ import annotations

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
                     seed: int = BOOTSTRAP_SEED) -> list[float] | None:
    """Percentile bootstrap interval of the AUC, resampling nodules; seeded, so repeatable.

    A numpy bootstrap rather than ``scipy.stats.bootstrap``: a leaderboard
    needs dozens of intervals, and counting draws per nodule is about six
    times faster than re-ranking every resample. Resamples that drew a single
    class are left out (rare except in small strata). ``tests/test_score.py``
    checks the coverage on simulated nodules.
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
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


def delong_difference(labels, scores_a, scores_b, confidence: float = CONFIDENCE) -> dict[str, float | int]:
    """Paired comparison of two AUCs on the same nodules (DeLong's test).

    Returns AUC a, AUC b, their difference a - b, its normal-theory interval
    and the two-sided p-value of "no difference".
    """
    labels = np.asarray(labels, dtype=int)
    scores = np.vstack([np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)])
    auc, per_positive, per_negative = _delong_components(labels, scores)
    m, n = per_positive.shape[1], per_negative.shape[1]
    covariance = np.cov(per_positive) / m + np.cov(per_negative) / n
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = float(auc[0] - auc[1])
    if variance <= 0:  # identical rankings: no difference, no spread
        return {"auc_a": float(auc[0]), "auc_b": float(auc[1]), "difference": difference,
                "ci": [difference, difference], "p_value": 1.0, "n": len(labels)}
    se = float(np.sqrt(variance))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {
        "auc_a": float(auc[0]), "auc_b": float(auc[1]), "difference": difference,
        "ci": [float(difference - z * se), float(difference + z * se)],
        "p_value": float(2 * stats.norm.sf(abs(difference) / se)), "n": len(labels),
    }
