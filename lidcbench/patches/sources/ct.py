"""The ``ct`` source: patches from the user's own LIDC-IDRI DICOM download.

For each nodule only the files of the slices it spans are read: the series'
header index (:mod:`.dicom_series`) maps each slice's z position to its file.
Pixels become Hounsfield units through each file's RescaleSlope and
RescaleIntercept, then get the same lung window and crop as the ``contours``
source.

The DICOM root is, in this order: the ``dicom_root`` argument (``--dicom-root``),
the ``LIDCBENCH_DICOM_ROOT`` environment variable, or the ``path`` option of the
``[dicom]`` section of ``~/.pylidcrc``, where pylidc users already set it.
"""
from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydicom

from lidcbench.errors import DicomSeriesError, MissingScansError, SourceError
from lidcbench.protocol.database import load_contours
from lidcbench.protocol.geometry import CROP_FACTOR, nodule_geometry

from .base import Source
from .crop import AIR_HU, LUNG_WINDOW_HU, lung_window, sample_patch
from .cube import CUBE_SETTINGS, Cube, stack_in_z
from .dicom_series import READ_ERRORS, Z_TOLERANCE_MM, find_series_folder, indexed_folder, series_index

# Raise when the pixels read from the same files change, so cached patches are rebuilt.
READ_VERSION = 1
VOLUME_VERSION = 1  # the same, for volumes
DICOM_ROOT_ENV = "LIDCBENCH_DICOM_ROOT"
SCAN_COLUMNS = ("patient_id", "study_uid", "series_uid")  # what finding and naming a scan needs


def pylidc_config_file() -> Path:
    """pylidc's configuration file (``~/.pylidcrc``; ``pylidc.conf`` on Windows)."""
    return Path.home() / ("pylidc.conf" if sys.platform.startswith("win") else ".pylidcrc")


def find_dicom_root(explicit: Path | str | None = None) -> Path:
    """The LIDC-IDRI DICOM folder: ``explicit``, else the environment variable, else pylidc's config."""
    candidates = [("--dicom-root", explicit), (f"${DICOM_ROOT_ENV}", os.environ.get(DICOM_ROOT_ENV))]
    config = pylidc_config_file()
    if config.is_file():
        parser = configparser.ConfigParser()
        parser.read(config)
        candidates.append((f"{config} [dicom] path", parser.get("dicom", "path", fallback=None)))
    for where, value in candidates:
        if value:
            root = Path(value).expanduser()
            if not root.is_dir():
                raise SourceError(f"the DICOM root {root} (from {where}) is not a folder; point it at the "
                                  f"folder that holds the LIDC-IDRI-dddd patient folders.")
            return root
    raise SourceError(
        "no LIDC-IDRI DICOM folder is configured for the ct source: pass --dicom-root DIR, set "
        f"{DICOM_ROOT_ENV}=DIR, or set `path = DIR` under [dicom] in {config} (pylidc's config). "
        "The contours source needs no download."
    )


def scan_name(row: Mapping[str, Any]) -> str:
    return f"{row['patient_id']} (series {row['series_uid']})"


class CtSource(Source):
    name = "ct"

    def __init__(self, dicom_root: Path | str | None = None, index_dir: Path | str | None = None,
                 db_path: Path | str | None = None) -> None:
        self.dicom_root = find_dicom_root(dicom_root)
        self.index_dir = Path(index_dir) if index_dir is not None else None
        self.db_path = Path(db_path) if db_path is not None else None
        self._folders: dict[str, Path | None] = {}  # series uid -> its folder, found once per source

    def settings(self) -> dict[str, Any]:
        return {
            "version": READ_VERSION,
            "hu": "stored value x RescaleSlope + RescaleIntercept",
            "slice_match": f"header z within {Z_TOLERANCE_MM} mm of the annotation database's",
            "crop": f"square of {CROP_FACTOR:g} x the readers' larger in-plane extent, centred on it",
            "interpolation": "bilinear",
            "window_hu": list(LUNG_WINDOW_HU),
            "outside_slice_hu": AIR_HU,
        }

    def volume_settings(self) -> dict[str, Any]:
        plane = {k: v for k, v in self.settings().items() if k not in ("crop", "interpolation")}
        return {**plane, **CUBE_SETTINGS, "volume_version": VOLUME_VERSION,
                "slices": "every slice of the series the cube reaches is read (a gap in the download is an error)"}

    def describe(self) -> str:
        return f"ct (DICOM root {self.dicom_root})"

    def missing(self, table: pd.DataFrame) -> pd.DataFrame:
        scans = table[list(SCAN_COLUMNS)].drop_duplicates("series_uid").to_dict("records")
        absent = {row["series_uid"] for row in scans if self._folder(row) is None}
        return table[table["series_uid"].isin(absent)]

    def prepare(self, table: pd.DataFrame, workers: int = 1, console=None) -> None:
        """Index the headers of every series ``table`` needs, in parallel, before rendering."""
        from .dicom_index import Series, index_series

        scans = table[list(SCAN_COLUMNS)].drop_duplicates("series_uid").to_dict("records")
        series = [Series(folder, row["study_uid"], row["series_uid"], scan_name(row))
                  for row in scans if (folder := self._folder(row)) is not None]
        report = index_series(series, self.index_dir, workers, console)
        if console is not None:
            console.print(f"DICOM index: {report.series} series, {report.files} slices, read or checked unchanged "
                          f"in {report.seconds:.1f} s", highlight=False)

    def _folder(self, row: Mapping[str, Any]) -> Path | None:
        uid = row["series_uid"]
        if uid not in self._folders:
            self._folders[uid] = (indexed_folder(self.dicom_root / row["patient_id"], uid, self.index_dir)
                                  or find_series_folder(self.dicom_root, row["patient_id"], row["study_uid"], uid))
        return self._folders[uid]

    def render_nodule(self, row: Mapping[str, Any], size: int) -> tuple[np.ndarray, np.ndarray]:
        geometry = nodule_geometry(row, self.db_path)
        images = self._planes(row, geometry.slices, geometry.slice_z, geometry.crop, size)
        return images, np.array(geometry.slices, dtype=np.int64)

    def render_volume(self, row: Mapping[str, Any], size: int, voxel_mm: float) -> np.ndarray:
        geometry = nodule_geometry(row, self.db_path)
        cube = Cube.around(geometry, row["pixel_spacing"], size, voxel_mm)
        scan_z = load_contours(self.db_path).slice_z[geometry.scan_id]
        needed = cube.slices_needed(scan_z)
        planes = self._planes(row, needed.tolist(), scan_z[needed].tolist(), cube.crop(), size)
        return stack_in_z(planes, scan_z[needed], cube, float(lung_window(AIR_HU)))

    def _planes(self, row: Mapping[str, Any], slices, slice_z, crop, size: int) -> np.ndarray:
        """Slices ``slices`` (at ``slice_z``) of the row's series, windowed and sampled on ``crop``."""
        scan = scan_name(row)
        folder = self._folder(row)
        if folder is None:
            raise MissingScansError(f"{scan} is not under the DICOM root {self.dicom_root}.")
        index = series_index(folder, row["study_uid"], row["series_uid"], scan, self.index_dir)
        fill = float(lung_window(AIR_HU))
        images = np.empty((len(slices), size, size), dtype=np.float32)
        for position, (k, z) in enumerate(zip(slices, slice_z)):
            path = index.file_at(z)
            if path is None:
                raise DicomSeriesError(
                    f"{scan}: no DICOM file at z = {z:.2f} mm (slice {k}) in {folder}, which holds "
                    f"{len(index.z)} slices; the series has a gap. Re-download this series."
                )
            images[position] = sample_patch(lung_window(read_hu(path, scan)), (0, 0), crop, size, fill)
        return images


def read_hu(path: Path, scan: str) -> np.ndarray:
    """One slice in Hounsfield units, by the file's own rescale slope and intercept."""
    try:
        dataset = pydicom.dcmread(path)
        stored = dataset.pixel_array
        slope = float(dataset.get("RescaleSlope", 1.0))
        intercept = float(dataset.get("RescaleIntercept", 0.0))
    except FileNotFoundError:
        raise DicomSeriesError(f"{scan}: the DICOM file {path} disappeared; re-run to re-index the series.") from None
    except READ_ERRORS as error:
        raise DicomSeriesError(
            f"{scan}: cannot read the DICOM file {path} ({error}). Re-download this series."
        ) from None
    return stored.astype(np.float64) * slope + intercept
