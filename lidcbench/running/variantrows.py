"""What the split units below the nodule change in a fold job: which slices each side sees, what a record keeps.

- ``--split slice``: a nodule's slices sit in several folds, so each side of a
  fold gets only its own slices of the nodules it shares with the other; the
  record keeps one row per test slice (scored per slice and, on the
  evaluation-choices page, per nodule), the fold's metrics stay per nodule
  (its test slices' mean) with ``metrics.per_slice`` beside them.
- ``--split annotation``: each sample is one reader's annotation; its record
  rows name the physical nodule (``nodule_of``) and its protocol label
  (``nodule_label``), so the page can score per nodule too.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from lidcbench.plugins.predictions import Predictions
from lidcbench.protocol.variants import Variant


def side_patches(variant: Variant, folds, patches, train_table: pd.DataFrame, test_table: pd.DataFrame,
                 fold: int):
    """(train, test) patches: the nodules' patches, and under ``--split slice`` only each side's slices."""
    train, test = patches.select(train_table["nodule_id"]), patches.select(test_table["nodule_id"])
    if variant.split == "slice":
        train = train.subset(~folds.in_fold(train.nodule_ids, train.slice_indices, fold))
        test = test.subset(folds.in_fold(test.nodule_ids, test.slice_indices, fold))
    return train, test


def record_rows(variant: Variant, predictions: Predictions, nodules: pd.DataFrame, test_table: pd.DataFrame,
                metrics: dict[str, Any], diameter: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows a record keeps (``nodules``: one per test nodule, as the protocol scores) and its metrics."""
    from lidcbench.scoring.metrics import classification_metrics
    from lidcbench.scoring.score import slice_predictions

    if variant.split == "annotation":
        nodules = nodules.merge(test_table[["nodule_id", "nodule_of", "nodule_label"]], on="nodule_id", how="left")
    elif variant.split == "slice":
        nodules = slice_predictions(predictions, test_table, diameter=diameter)
        metrics = {**metrics, "per_slice": {"slices": len(nodules), "classification": classification_metrics(
            nodules["label"], nodules["malignancy"])}}
    return nodules, metrics
