"""Lasso and elastic-net regression on hand-crafted patch features.

The paper's attribute baselines (Table III, after Chen et al.): one linear
model per rating, predicting the eight attribute scores and the malignancy
score on the [0, 1] scale; the malignancy probability is the predicted
malignancy score (0.5 is the rating 3 that divides benign from malignant).
The regularisation strength is chosen by cross-validation inside the
training folds, grouped by patient; the values chosen for each rating's
model are left in ``selected_params_``, which the record keeps.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import ElasticNetCV, LassoCV
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lidcbench.method import ATTRIBUTE_NAMES, FoldData, Method, prediction_frame
from lidcbench.params import at_least, between, each

from .features import feature_matrix

_TARGETS = (*ATTRIBUTE_NAMES, "malignancy")


class _LinearMethod(Method):
    predicts_attributes = True
    depends_on_seed = False  # GroupKFold does not shuffle; the coordinate descent is cyclic, not random

    def _regressor(self, splits):
        raise NotImplementedError

    def training_set_problem(self, nodules):
        patients = nodules["patient_id"].nunique() if len(nodules) else 0
        if patients < self.inner_folds:  # GroupKFold needs a patient for each inner fold
            return f"holds nodules of {patients} patient(s); inner_folds={self.inner_folds} needs at least as many"
        return super().training_set_problem(nodules)

    def fit(self, train: FoldData) -> _LinearMethod:
        features = feature_matrix(train.patches.images)
        targets = train.targets()
        groups = train.slice_table()["patient_id"].to_numpy()
        splits = list(GroupKFold(n_splits=self.inner_folds).split(features, groups=groups))
        self.models_ = {
            name: make_pipeline(StandardScaler(), self._regressor(splits)).fit(features, targets[f"target_{name}"])
            for name in _TARGETS
        }
        self.selected_params_ = {name: self._chosen(model[-1]) for name, model in self.models_.items()}
        return self

    @staticmethod
    def _chosen(regressor) -> dict[str, float]:
        return {"alpha": float(regressor.alpha_)}

    def predict(self, test: FoldData):
        if not len(test.patches):  # scikit-learn refuses 0 samples
            return prediction_frame(test, np.empty(0), np.empty((0, len(ATTRIBUTE_NAMES))))
        features = feature_matrix(test.patches.images)
        predicted = {name: model.predict(features) for name, model in self.models_.items()}
        attributes = np.column_stack([predicted[name] for name in ATTRIBUTE_NAMES])
        return prediction_frame(test, predicted["malignancy"], attributes)


class LassoMethod(_LinearMethod):
    """Lasso regression per rating on intensity, texture and shape features."""

    param_checks = {"inner_folds": at_least(2), "n_alphas": at_least(1), "seed": at_least(0)}

    def __init__(self, inner_folds: int = 5, n_alphas: int = 30, seed: int = 0):
        self.inner_folds = inner_folds
        self.n_alphas = n_alphas
        self.seed = seed

    def _regressor(self, splits):
        return LassoCV(alphas=self.n_alphas, cv=splits, random_state=self.seed, max_iter=5000)


class ElasticNetMethod(_LinearMethod):
    """Elastic-net regression per rating on intensity, texture and shape features."""

    param_checks = {"inner_folds": at_least(2), "n_alphas": at_least(1), "seed": at_least(0),
                    "l1_ratio": each(between(0, 1, open_low=True))}

    def __init__(self, inner_folds: int = 5, n_alphas: int = 30, l1_ratio: tuple[float, ...] = (0.1, 0.5, 0.9),
                 seed: int = 0):
        self.inner_folds = inner_folds
        self.n_alphas = n_alphas
        self.l1_ratio = l1_ratio
        self.seed = seed

    def _regressor(self, splits):
        return ElasticNetCV(alphas=self.n_alphas, l1_ratio=list(self.l1_ratio), cv=splits,
                            random_state=self.seed, max_iter=5000)

    @staticmethod
    def _chosen(regressor) -> dict[str, float]:
        return {"alpha": float(regressor.alpha_), "l1_ratio": float(regressor.l1_ratio_)}
