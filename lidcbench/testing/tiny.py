"""A tiny method that exercises the whole run path in seconds.

Not a baseline: two patch statistics per slice into linear models.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from lidcbench.plugins.method import FoldData, Method, prediction_frame
from lidcbench.plugins.params import at_least, positive
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES


def _patch_statistics(data: FoldData) -> np.ndarray:
    images = np.asarray(data.patches.images, dtype=np.float32)
    flat = images.reshape(len(images), -1)
    return np.c_[flat.mean(axis=1), (flat > 0.5).mean(axis=1)]


class TinyMethod(Method):
    """Patch mean and bright fraction -> logistic regression and ridge."""

    predicts_attributes = True

    param_checks = {"C": positive(), "alpha": at_least(0), "seed": at_least(0)}

    def __init__(self, C: float = 1.0, alpha: float = 1.0, seed: int = 0, warning: str | None = None):
        self.C = C
        self.alpha = alpha
        self.seed = seed
        self.warning = warning  # a UserWarning to give while fitting (tests of how a run shows warnings)

    def fit(self, train: FoldData) -> TinyMethod:
        if self.warning:
            warnings.warn(self.warning, stacklevel=2)
        features, targets = _patch_statistics(train), train.targets()
        self.classifier_ = LogisticRegression(C=self.C, random_state=self.seed).fit(features, targets["label"])
        self.regressor_ = Ridge(alpha=self.alpha).fit(features, targets[[f"target_{n}" for n in ATTRIBUTE_NAMES]])
        return self

    def predict(self, test: FoldData):
        if not len(test.patches):  # scikit-learn refuses 0 samples
            return prediction_frame(test, np.empty(0), np.empty((0, len(ATTRIBUTE_NAMES))))
        features = _patch_statistics(test)
        return prediction_frame(test, self.classifier_.predict_proba(features)[:, 1], self.regressor_.predict(features))
