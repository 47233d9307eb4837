"""Malignancy from the nodule's size alone.

Size separates benign from malignant well in LIDC-IDRI, so every leaderboard
needs this row to show what a method adds beyond it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from lidcbench.method import FoldData, Method, prediction_frame
from lidcbench.params import at_least, positive


class DiameterMethod(Method):
    """Logistic regression on the log of the readers' mean diameter (annotation-derived: at test time
    the one reader-based measure a method sees, see lidcbench.method.UNLABELLED_COLUMNS)."""

    param_checks = {"C": positive(), "seed": at_least(0)}
    depends_on_seed = False  # lbfgs logistic regression: random_state is not used

    def __init__(self, C: float = 1.0, seed: int = 0):
        self.C = C
        self.seed = seed

    @staticmethod
    def _features(data: FoldData) -> np.ndarray:
        # One row per nodule; the same probability then goes to each of its slices.
        return np.log(data.nodules["diameter_mean_mm"].to_numpy(dtype=float))[:, None]

    def fit(self, train: FoldData) -> DiameterMethod:
        self.model_ = LogisticRegression(C=self.C, random_state=self.seed)
        self.model_.fit(self._features(train), train.nodules["label"].to_numpy())
        return self

    def predict(self, test: FoldData) -> pd.DataFrame:
        if test.nodules.empty:  # a fold with no test nodule: scikit-learn refuses 0 samples
            return prediction_frame(test, np.empty(0))
        per_nodule = dict(zip(test.nodules["nodule_id"], self.model_.predict_proba(self._features(test))[:, 1]))
        malignancy = np.array([per_nodule[n] for n in test.patches.nodule_ids])
        return prediction_frame(test, malignancy)
