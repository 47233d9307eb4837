"""Percentile bootstrap intervals that resample nodules, not (nodule, reader) pairs.

The pairs of one nodule share its image and its other readers, so they are
not independent: a resample draws nodules with replacement and takes all the
pairs of each nodule drawn, as often as it was drawn. The AUC of a resample
is :mod:`lidcbench.scoring.metrics`' weighted Mann-Whitney statistic with those draw
counts as weights; the seed is the leaderboard's, so every interval repeats.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..metrics import BOOTSTRAP_SEED, CONFIDENCE, N_RESAMPLES, _resampled_aucs

BATCH = 250  # resamples per batch: memory stays at BATCH x nodules counts


def _nodule_draws(n: int, n_resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    """Batches of (resamples x nodules) counts: how often each of ``n`` nodules was drawn."""
    return _draws(int(n), int(n_resamples), int(seed))


@lru_cache(maxsize=4)  # a page draws the same resamples for every method: draw them once
def _draws(n: int, n_resamples: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    batches = []
    for start in range(0, n_resamples, BATCH):
        batch = min(BATCH, n_resamples - start)
        draws = rng.integers(0, n, size=(batch, n)) + n * np.arange(batch)[:, None]
        counts = np.bincount(draws.ravel(), minlength=batch * n).reshape(batch, n).astype(np.int32)
        counts.flags.writeable = False
        batches.append(counts)
    return tuple(batches)


def interval(values: np.ndarray, confidence: float = CONFIDENCE) -> list[float] | None:
    """The percentile interval of resampled ``values``, leaving out undefined ones (NaN)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return [float(low), float(high)]


def resampled_aucs(labels, scores, groups, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """The AUC of each resample of nodules ``groups`` (NaN where one drew a single class).

    Pairs that share nodule, label and score are one element weighted by their
    number, so the statistic runs over far fewer elements than pairs (a
    method's score is the same for every pair of a nodule). The same groups and
    seed always draw the same resamples, so two score sets on the same pairs
    can be compared resample by resample.
    """
    frame = pd.DataFrame({"group": np.asarray(groups), "label": np.asarray(labels, dtype=int),
                          "score": np.asarray(scores, dtype=float)})
    elements = frame.groupby(["group", "label", "score"], sort=True).size().reset_index(name="multiplicity")
    nodules = pd.Index(sorted(frame["group"].unique()))
    codes = nodules.get_indexer(elements["group"])
    labels_, scores_ = elements["label"].to_numpy(), elements["score"].to_numpy()
    multiplicity = elements["multiplicity"].to_numpy()
    return np.concatenate([_resampled_aucs(labels_, scores_, draws[:, codes] * multiplicity)
                           for draws in _nodule_draws(len(nodules), n_resamples, seed)])


def auc_by_nodule(labels, scores, groups, confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                  seed: int = BOOTSTRAP_SEED) -> tuple[dict[str, Any], np.ndarray | None]:
    """ROC AUC of ``scores`` (scikit-learn's) with its interval over nodules ``groups``, and the resampled
    AUCs (None, and no AUC, when the labels hold one class)."""
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0 or labels.min() == labels.max():
        return {"auc": None, "ci": None}, None
    resampled = resampled_aucs(labels, scores, groups, n_resamples, seed)
    return {"auc": float(roc_auc_score(labels, scores)), "ci": interval(resampled, confidence)}, resampled


def paired_difference(auc_a: float, auc_b: float, resampled_a: np.ndarray, resampled_b: np.ndarray,
                      confidence: float = CONFIDENCE) -> dict[str, Any]:
    """a - b with its interval, from two AUCs resampled on the same draws of nodules
    (:func:`resampled_aucs` with the same groups and seed)."""
    return {"auc_a": auc_a, "auc_b": auc_b, "difference": auc_a - auc_b,
            "ci": interval(resampled_a - resampled_b, confidence), "resampled": "nodules"}


def rates_by_nodule(labels, predicted, groups, confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> dict[str, dict[str, float | list[float] | None]]:
    """Accuracy, sensitivity and specificity of binary ``predicted``, each with its interval over nodules."""
    positive, predicted = np.asarray(labels, dtype=int) == 1, np.asarray(predicted, dtype=bool)
    codes, nodules = pd.factorize(np.asarray(groups), sort=True)
    # Per nodule: pairs, malignant pairs, benign pairs, and those of each called right; a resample's
    # counts are then its draws times these.
    per_nodule = np.stack([np.bincount(codes, weights=w, minlength=len(nodules)) for w in (
        np.ones(len(codes)), positive, ~positive, predicted & positive, ~predicted & ~positive)], axis=1)
    totals = [per_nodule.sum(axis=0, keepdims=True)]
    totals += [draws @ per_nodule for draws in _nodule_draws(len(nodules), n_resamples, seed)]
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = [{"accuracy": (t[:, 3] + t[:, 4]) / t[:, 0], "sensitivity": t[:, 3] / t[:, 1],
                  "specificity": t[:, 4] / t[:, 2]} for t in totals]
    result = {}
    for name, value in rates[0].items():
        defined = bool(np.isfinite(value[0]))
        result[name] = {"value": float(value[0]) if defined else None,
                        "ci": interval(np.concatenate([r[name] for r in rates[1:]]), confidence) if defined else None}
    return result
