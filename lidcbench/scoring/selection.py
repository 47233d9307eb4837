"""Model selection on the test fold (evaluation variant ``best-epoch-on-test``): the leaky choice, measured.

The method predicted the test fold after every epoch without seeing a label;
here, with the labels, each epoch's predictions are scored as the fold is (the
nodule-level ROC AUC of :func:`lidcbench.scoring.score.score_fold`) and the
epoch with the highest AUC is kept; a tie goes to the earliest such epoch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lidcbench.errors import PluginError
from lidcbench.plugins.predictions import Predictions

from .metrics import classification_metrics
from .score import nodule_predictions


@dataclass(frozen=True)
class EpochChoice:
    """The epoch kept (1 is the first), its predictions and every epoch's test AUC (None where undefined)."""

    epoch: int
    predictions: Predictions
    test_auc_by_epoch: tuple[float | None, ...]

    def to_record(self) -> dict[str, Any]:
        return {"rule": "best-epoch-on-test", "epoch": self.epoch, "epochs": len(self.test_auc_by_epoch),
                "test_auc_by_epoch": list(self.test_auc_by_epoch)}


def fold_auc(predictions: Predictions, test_table: pd.DataFrame, *, diameter: str = "mean") -> float | None:
    nodules = nodule_predictions(predictions, test_table, diameter=diameter)
    return classification_metrics(nodules["label"], nodules["malignancy"])["auc"]


def best_epoch_on_test(by_epoch: list[Predictions], test_table: pd.DataFrame, *,
                       diameter: str = "mean") -> EpochChoice:
    """The epoch whose test predictions score the highest AUC (``by_epoch[0]`` is epoch 1)."""
    if not by_epoch:
        raise PluginError("the method returned no per-epoch predictions, so no epoch can be chosen.")
    aucs = tuple(fold_auc(p, test_table, diameter=diameter) for p in by_epoch)
    defined = [(auc, -index) for index, auc in enumerate(aucs) if auc is not None]
    index = -max(defined)[1] if defined else len(aucs) - 1  # no AUC anywhere (one class): the last epoch
    return EpochChoice(index + 1, by_epoch[index], aucs)
