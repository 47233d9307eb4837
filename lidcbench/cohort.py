"""The cohort: one row per physical nodule under a :class:`Protocol`.

Built in seconds from the annotation database and the frozen grouping; every
candidate nodule is kept in :attr:`Cohort.candidates` with the rule that
excluded it, so the cohort card can show how each rule changes the count.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .attributes import RATINGS
from .database import Annotations, default_db_path, load_annotations
from .grouping import groups_frame, load_grouping
from .protocol import DEFAULT, Protocol

# Exclusion reasons, in the order the rules apply.
OVERSIZED = "more annotations than readers"
OUT_OF_RANGE = "rating out of range"
TOO_FEW_READERS = "too few readers"
DIAMETER = "diameter outside window"
INDETERMINATE = "malignancy exactly 3"
EXCLUSION_ORDER = (OVERSIZED, OUT_OF_RANGE, TOO_FEW_READERS, DIAMETER, INDETERMINATE)


@dataclass(frozen=True)
class Cohort:
    """``table``: the included nodules, sorted by nodule id. ``candidates``: all
    nodules with an ``excluded_by`` column (empty string when included)."""

    protocol: Protocol
    table: pd.DataFrame
    candidates: pd.DataFrame
    db_path: Path

    def __len__(self) -> int:
        return len(self.table)

    @property
    def nodule_ids(self) -> list[str]:
        return self.table["nodule_id"].tolist()

    def slices(self) -> pd.DataFrame:
        """One row per (nodule, 2D slice index) the nodule spans."""
        exploded = self.table[["nodule_id", "slices"]].explode("slices", ignore_index=True)
        return exploded.rename(columns={"slices": "slice_index"}).astype({"slice_index": int})


def _reader_frame(annotations: Annotations, grouping: dict[str, list[int]]) -> pd.DataFrame:
    readers = groups_frame(grouping).merge(annotations.table, on="annotation_id", how="left")
    # Reader order within a nodule follows the fingerprint, not database row ids.
    return readers.sort_values(["nodule_id", "fingerprint"], ignore_index=True)


def _aggregate(values: np.ndarray, how: str) -> np.ndarray:
    return np.median(values, axis=0) if how == "median" else values.mean(axis=0)


def _nodule_rows(readers: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    lows = np.array([r.low for r in RATINGS])
    highs = np.array([r.high for r in RATINGS])
    names = [r.name for r in RATINGS]
    rows = []
    for key, group in readers.groupby("nodule_id", sort=True):
        raw = group[names].to_numpy(dtype=float)
        out_of_range = bool(((raw < lows) | (raw > highs)).any())
        ratings = np.clip(raw, lows, highs)
        aggregated = _aggregate(ratings, protocol.aggregate)
        diameters = group["diameter_mm"].to_numpy()
        slices = sorted({k for ks in group["slices"] for k in ks})
        first = group.iloc[0]
        row = {
            "nodule_id": key,
            "patient_id": first["patient_id"],
            "study_uid": first["study_uid"],
            "series_uid": first["series_uid"],
            "scan_id": int(first["scan_id"]),
            "pixel_spacing": float(first["pixel_spacing"]),
            "slice_thickness": float(first["slice_thickness"]),
            "annotation_ids": tuple(int(i) for i in group["annotation_id"]),
            "n_readers": len(group),
            "reader_diameters_mm": tuple(float(d) for d in diameters),
            "diameter_mean_mm": float(diameters.mean()),
            "diameter_max_mm": float(diameters.max()),
            "centroid_i": float(group["centroid_i"].mean()),
            "centroid_j": float(group["centroid_j"].mean()),
            "centroid_k": float(group["centroid_k"].mean()),
            "centroid_z_mm": float(group["centroid_z_mm"].mean()),
            "slices": tuple(slices),
            "n_slices": len(slices),
            "out_of_range": out_of_range,
        }
        for index, rating in enumerate(RATINGS):
            row[f"readers_{rating.name}"] = tuple(int(v) for v in ratings[:, index])
            row[rating.name] = float(aggregated[index])
            row[f"target_{rating.name}"] = float((aggregated[index] - rating.low) / (rating.high - rating.low))
        rows.append(row)
    return pd.DataFrame(rows)


def _exclusions(nodules: pd.DataFrame, protocol: Protocol) -> pd.Series:
    diameter = nodules[f"diameter_{protocol.diameter}_mm"]
    rules = {
        OVERSIZED: (nodules["n_readers"] > protocol.max_annotations) & (protocol.oversized_clusters == "exclude"),
        OUT_OF_RANGE: nodules["out_of_range"] & (protocol.out_of_range_ratings == "exclude"),
        TOO_FEW_READERS: nodules["n_readers"] < protocol.min_readers,
        DIAMETER: (diameter < protocol.diameter_min_mm) | (diameter > protocol.diameter_max_mm),
        # Ratings are integers, so a mean or median of exactly 3 is exact up to rounding.
        INDETERMINATE: np.isclose(nodules["malignancy"], 3.0),
    }
    excluded_by = pd.Series("", index=nodules.index)
    for reason in reversed(EXCLUSION_ORDER):  # the first rule that applies wins
        excluded_by[np.asarray(rules[reason], dtype=bool)] = reason
    return excluded_by


def build_cohort(protocol: Protocol, annotations: Annotations, grouping: dict[str, list[int]]) -> Cohort:
    nodules = _nodule_rows(_reader_frame(annotations, grouping), protocol)
    nodules["label"] = (nodules["malignancy"] > 3).astype(int)
    nodules["excluded_by"] = _exclusions(nodules, protocol)
    table = nodules[nodules["excluded_by"] == ""].drop(columns="excluded_by").reset_index(drop=True)
    return Cohort(protocol=protocol, table=table, candidates=nodules, db_path=annotations.db_path)


def load_cohort(protocol: Protocol = DEFAULT, db_path: Path | None = None) -> Cohort:
    """The cohort under ``protocol`` from the frozen grouping (seconds); cached per protocol and database."""
    return _load_cohort(protocol, Path(db_path) if db_path is not None else default_db_path())


@lru_cache(maxsize=8)
def _load_cohort(protocol: Protocol, db_path: Path) -> Cohort:
    annotations = load_annotations(db_path)
    return build_cohort(protocol, annotations, load_grouping(annotations))

