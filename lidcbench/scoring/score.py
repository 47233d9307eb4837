"""The scorer: the same numbers for every method, on the same nodules.

Slice predictions are averaged per nodule (as in the paper). Each test fold
gets accuracy, sensitivity and specificity at 0.5 and ROC AUC, the same for
nodules under and over 10 mm (diameter alone separates this cohort well),
and, where a method predicts attributes, the absolute error per attribute on
the original rating scale beside the three yardsticks of
:mod:`lidcbench.scoring.yardsticks`. :func:`summarize` turns folds into mean ± std
over folds and a pooled AUC with a bootstrap interval over nodules.

Every result is a JSON-ready dict; an undefined value is ``None``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lidcbench.errors import PredictionsError
from lidcbench.plugins.predictions import Predictions
from lidcbench.protocol.attributes import ATTRIBUTES

from .metrics import bootstrap_auc_ci, classification_metrics, delong_difference
from .yardsticks import attribute_yardsticks

SIZE_SPLIT_MM = 10.0
STRATA = ("under_10mm", "10mm_or_more")
STRATUM_LABELS = {STRATA[0]: f"< {SIZE_SPLIT_MM:g} mm", STRATA[1]: f"≥ {SIZE_SPLIT_MM:g} mm"}
CLASSIFICATION_METRICS = ("accuracy", "sensitivity", "specificity", "auc")
DIAMETERS = ("mean", "max")
YARDSTICKS = ("inter_observer", "reader_vs_others", "constant")


def _size_strata(diameter_mm: pd.Series) -> dict[str, np.ndarray]:
    small = diameter_mm.to_numpy() < SIZE_SPLIT_MM
    return {STRATA[0]: small, STRATA[1]: ~small}


def nodule_predictions(predictions: Predictions, test_table: pd.DataFrame, *, diameter: str = "mean") -> pd.DataFrame:
    """One row per test nodule: nodule_id, label, diameter_mm (the protocol's ``diameter``),
    malignancy and the predicted attributes (each the mean over the nodule's slices)."""
    if diameter not in DIAMETERS:
        raise ValueError(f"diameter must be one of {DIAMETERS}, got {diameter!r}")  # a caller's mistake
    by_nodule = predictions.by_nodule()
    missing = sorted(set(test_table["nodule_id"]) - set(by_nodule.index))
    if missing:
        raise PredictionsError(f"{len(missing)} test nodules have no prediction, e.g. {missing[:5]}; "
                               "a fold is scored only when every one of its nodules is predicted.")
    truth = test_table[["nodule_id", "label", f"diameter_{diameter}_mm"]].rename(
        columns={f"diameter_{diameter}_mm": "diameter_mm"})
    return truth.merge(by_nodule, left_on="nodule_id", right_index=True, how="left").sort_values(
        "nodule_id", ignore_index=True)


def slice_predictions(predictions: Predictions, test_table: pd.DataFrame, *, diameter: str = "mean") -> pd.DataFrame:
    """One row per predicted test slice: nodule_id, slice_index, label, diameter_mm, malignancy and the
    predicted attributes (split-slice records: each slice is a sample)."""
    nodules = nodule_predictions(predictions, test_table, diameter=diameter)  # checks every nodule is predicted
    rows = predictions.frame[["nodule_id", "slice_index", "malignancy", *predictions.attributes]]
    if rows["slice_index"].isna().any():
        raise PredictionsError("a slice-level split scores each slice: predict one row per test slice, "
                               "not one per nodule.")
    truth = nodules[["nodule_id", "label", "diameter_mm"]]
    return truth.merge(rows.astype({"slice_index": "int64"}), on="nodule_id", how="inner").sort_values(
        ["nodule_id", "slice_index"], ignore_index=True)


def classification_by_size(nodules: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {name: classification_metrics(nodules.loc[mask, "label"], nodules.loc[mask, "malignancy"])
            for name, mask in _size_strata(nodules["diameter_mm"]).items()}


def attribute_errors(nodules: pd.DataFrame, test_table: pd.DataFrame) -> dict[str, float]:
    """Mean absolute error per predicted attribute, on the original rating scale."""
    truth = test_table.set_index("nodule_id").loc[nodules["nodule_id"]]
    errors = {}
    for attribute in ATTRIBUTES:
        if attribute.name in nodules.columns:
            predicted = attribute.low + nodules[attribute.name].to_numpy() * (attribute.high - attribute.low)
            errors[attribute.name] = float(np.abs(predicted - truth[attribute.name].to_numpy()).mean())
    return errors


def score_fold(predictions: Predictions, test_table: pd.DataFrame, train_table: pd.DataFrame, *,
               diameter: str = "mean") -> dict[str, Any]:
    """Metrics of one test fold. ``train_table`` only supplies the constant yardstick's
    training mean; ``diameter`` is the protocol's diameter, for the size strata."""
    nodules = nodule_predictions(predictions, test_table, diameter=diameter)
    errors = attribute_errors(nodules, test_table)
    attributes = {name: {"error": errors.get(name), **references}
                  for name, references in attribute_yardsticks(test_table, train_table).items()}
    return {
        "nodules": len(nodules),
        "classification": classification_metrics(nodules["label"], nodules["malignancy"]),
        "by_size": classification_by_size(nodules),
        "size_column": f"diameter_{diameter}_mm",
        "attributes": attributes,
    }


def _spread(values: list[float | None]) -> dict[str, float | None]:
    """Mean and sample standard deviation over folds; None if any fold lacks the value."""
    if not values or any(v is None for v in values):
        return {"mean": None, "std": None}
    array = np.asarray(values, dtype=float)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else None}


def pooled_classification(nodules: pd.DataFrame) -> dict[str, Any]:
    """Metrics over all nodules at once, with a bootstrap interval for the AUC (resampled in
    nodule-id order, so the interval does not depend on the order of the rows)."""
    metrics = classification_metrics(nodules["label"], nodules["malignancy"])
    return {**metrics, "auc_ci": bootstrap_auc_ci(nodules["label"], nodules["malignancy"], ids=nodules["nodule_id"])}


def summarize_attributes(fold_metrics: Mapping[int, dict[str, Any]]) -> dict[str, dict[str, dict]]:
    """Per attribute: the error and each yardstick as mean ± std over folds."""
    per_fold = [fold_metrics[f] for f in sorted(fold_metrics)]
    return {attribute.name: {key: _spread([m["attributes"][attribute.name][key] for m in per_fold])
                             for key in ("error", *YARDSTICKS)}
            for attribute in ATTRIBUTES}


def summarize(fold_metrics: Mapping[int, dict[str, Any]], nodules: pd.DataFrame) -> dict[str, Any]:
    """Mean ± std over folds, and pooled over the folds' test nodules (``nodules``: one row
    per nodule as :func:`nodule_predictions` gives, all folds together)."""
    folds = sorted(fold_metrics)
    per_fold = [fold_metrics[f] for f in folds]
    strata = _size_strata(nodules["diameter_mm"])
    return {
        "folds": folds,
        "nodules": len(nodules),
        "classification": {name: _spread([m["classification"][name] for m in per_fold])
                           for name in CLASSIFICATION_METRICS},
        "pooled": pooled_classification(nodules),
        "pooled_by_size": {name: pooled_classification(nodules[mask]) for name, mask in strata.items()},
        "attributes": summarize_attributes(fold_metrics),
    }


@dataclass(frozen=True)
class Score:
    """A method scored fold by fold: ``folds`` (fold -> :func:`score_fold` dict),
    ``nodules`` (per-nodule predictions with their fold) and ``summary``."""

    folds: dict[int, dict[str, Any]]
    nodules: pd.DataFrame
    summary: dict[str, Any]

    def fold_nodules(self, fold: int) -> pd.DataFrame:
        return self.nodules[self.nodules["fold"] == fold].drop(columns="fold").reset_index(drop=True)


def score_folds(predictions: Predictions, cohort, folds, fold_ids: Iterable[int]) -> Score:
    """Score each fold in ``fold_ids`` of the frozen ``folds``: its nodules are the test set, the
    other folds the training set that the constant yardstick's mean comes from."""
    diameter = cohort.protocol.diameter
    metrics, frames = {}, []
    for fold in folds.fold_ids(list(fold_ids)):
        train, test = folds.split(cohort, fold)
        metrics[fold] = score_fold(predictions, test, train, diameter=diameter)
        frames.append(nodule_predictions(predictions, test, diameter=diameter).assign(fold=fold))
    nodules = pd.concat(frames, ignore_index=True)
    return Score(metrics, nodules, summarize(metrics, nodules))


def compare(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    """Paired comparison of two methods' AUCs on the same nodules (DeLong's test).

    ``a``, ``b``: per-nodule predictions (nodule_id, label, malignancy). Returns
    AUC a, AUC b, the difference a - b with its 95% interval, and the p-value.
    """
    a, b = a.set_index("nodule_id").sort_index(), b.set_index("nodule_id").sort_index()
    if not a.index.equals(b.index):
        only_a, only_b = sorted(set(a.index) - set(b.index)), sorted(set(b.index) - set(a.index))
        raise PredictionsError(f"a paired comparison needs the same nodules: {len(only_a)} only in the first "
                               f"(e.g. {only_a[:3]}), {len(only_b)} only in the second (e.g. {only_b[:3]}).")
    if not (a["label"].to_numpy() == b["label"].to_numpy()).all():
        raise PredictionsError("the two prediction sets disagree on labels: they come from different protocols.")
    if a["label"].nunique() < 2:
        raise PredictionsError("a paired AUC comparison needs both benign and malignant nodules.")
    return {"test": "DeLong", **delong_difference(a["label"], a["malignancy"], b["malignancy"])}
