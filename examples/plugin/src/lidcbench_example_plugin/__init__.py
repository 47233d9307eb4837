"""An example third-party method: the fraction of bright pixels per slice."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from lidcbench.method import FoldData, Method, prediction_frame


class BrightFraction(Method):
    """Logistic regression on the fraction of patch pixels above a threshold."""

    def __init__(self, threshold: float = 0.5, seed: int = 0):
        self.threshold = threshold
        self.seed = seed

    def _features(self, data: FoldData) -> np.ndarray:
        images = np.asarray(data.patches.images)
        return (images > self.threshold).mean(axis=(1, 2))[:, None]

    def fit(self, train: FoldData) -> BrightFraction:
        self.model_ = LogisticRegression(random_state=self.seed)
        self.model_.fit(self._features(train), train.targets()["label"])
        return self

    def predict(self, test: FoldData):  # never called with zero rows: the runner skips such a fold
        return prediction_frame(test, self.model_.predict_proba(self._features(test))[:, 1])
