"""Do a method's probabilities mean what they say? Brier score, ECE and the reliability curve.

scikit-learn gives the Brier score and the reliability curve
(``calibration_curve`` with equal-count bins); it has no expected
calibration error, so :func:`expected_calibration_error` weighs the curve's
gaps by the share of nodules in each bin, counting them with the same bin
edges scikit-learn uses.
"""
from __future__ import annotations

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

N_BINS = 10
STRATEGY = "quantile"  # equal-count bins: every bin holds about a tenth of the nodules
DESCRIPTION = f"{N_BINS} equal-count bins of the predicted probability"


def bin_counts(probabilities, n_bins: int = N_BINS) -> np.ndarray:
    """Nodules per non-empty bin, bins as ``calibration_curve(strategy="quantile")`` draws them."""
    probabilities = np.asarray(probabilities, dtype=float)
    edges = np.percentile(probabilities, np.linspace(0, 100, n_bins + 1))
    counts = np.bincount(np.searchsorted(edges[1:-1], probabilities), minlength=n_bins)
    return counts[counts > 0]


def expected_calibration_error(labels, probabilities, n_bins: int = N_BINS) -> float:
    """Sum over bins of (share of nodules) x |observed malignant fraction - mean predicted probability|."""
    observed, predicted = calibration_curve(labels, probabilities, n_bins=n_bins, strategy=STRATEGY, pos_label=1)
    counts = bin_counts(probabilities, n_bins)
    return float(np.sum(counts / counts.sum() * np.abs(observed - predicted)))


def calibration(labels, probabilities, n_bins: int = N_BINS) -> dict[str, object]:
    """Brier score, ECE and the reliability curve (mean predicted, observed fraction, count per bin)."""
    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    if len(labels) == 0:
        return {"brier": None, "ece": None, "curve": None}
    observed, predicted = calibration_curve(labels, probabilities, n_bins=n_bins, strategy=STRATEGY, pos_label=1)
    return {
        "brier": float(brier_score_loss(labels, probabilities, pos_label=1)),
        "ece": expected_calibration_error(labels, probabilities, n_bins),
        "curve": {"predicted": predicted.tolist(), "observed": observed.tolist(),
                  "count": bin_counts(probabilities, n_bins).tolist()},
    }
