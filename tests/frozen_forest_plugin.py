"""A plugin written to the earlier documentation, frozen here: it must keep passing `check_method` and running.

It does what those docs showed and nothing newer: no parameter declarations,
no handling of empty input (its forest refuses 0 rows), only
``from lidcbench.method import Method, prediction_frame``. Do not modernise it:
it stands for the plugins already out there.
"""
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from lidcbench.method import Method, prediction_frame


class FrozenForest(Method):
    """A scikit-learn forest over four intensity features of each patch."""

    def __init__(self, n_estimators: int = 25, max_depth: int | None = None, seed: int = 0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.seed = seed

    def _features(self, data):
        images = np.asarray(data.patches.images, dtype=np.float32)
        return np.stack([images.mean(axis=(1, 2)), images.std(axis=(1, 2)), (images > 0.5).mean(axis=(1, 2)),
                         images.max(axis=(1, 2))], axis=1)

    def fit(self, train):
        self.forest_ = RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                              random_state=self.seed)
        self.forest_.fit(self._features(train), train.targets()["label"])
        return self

    def predict(self, test):
        return prediction_frame(test, self.forest_.predict_proba(self._features(test))[:, 1])
