"""Malignancy from the nodule's 3D shape: a linear model on shape features of its mask.

The mask comes from the nodule's cube (:mod:`.shape_features`): on the
``contours`` source, the readers' consensus mask resampled to 1 mm voxels, with
no rating or label in it. The question it answers: does 3D shape (sphericity,
elongation, solidity, ...) add to what size alone (``diameter``) predicts?
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lidcbench.method import FoldData, Method, prediction_frame
from lidcbench.params import at_least, between, positive

from .shape_features import FEATURE_NAMES, cube_features


class Shape3dMethod(Method):
    """Standardised 3D shape features -> L2 logistic regression (one probability per nodule)."""

    patch_kind = "volume"
    depends_on_seed = False  # lbfgs logistic regression: random_state is not used
    # 64 voxels of 1 mm hold the largest (30 mm) nodules whole, diagonals included.
    param_checks = {"C": positive(), "patch_size": at_least(16), "voxel_mm": between(0.25, 2.0), "seed": at_least(0)}

    def __init__(self, C: float = 1.0, patch_size: int = 64, voxel_mm: float = 1.0, seed: int = 0):
        self.C = C
        self.patch_size = patch_size
        self.voxel_mm = voxel_mm
        self.seed = seed

    @staticmethod
    def _features(data: FoldData) -> np.ndarray:
        voxel_mm = float(data.patches.settings.get("voxel_mm", 1.0))
        return cube_features(np.asarray(data.patches.images, dtype=np.float32), voxel_mm)

    def fit(self, train: FoldData) -> Shape3dMethod:
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, random_state=self.seed))
        self.model_.fit(self._features(train), train.targets()["label"].to_numpy())
        self.feature_names_ = list(FEATURE_NAMES)
        return self

    def predict(self, test: FoldData) -> pd.DataFrame:
        return prediction_frame(test, self.model_.predict_proba(self._features(test))[:, 1])
