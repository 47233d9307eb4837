"""Finding a scan's DICOM series on disk and indexing its slices by z position.

LIDC-IDRI downloads come in two layouts (pylidc's ``Scan.get_path_to_dicom_files``)::

    ROOT/LIDC-IDRI-dddd/<study uid>/<series uid>/*.dcm      (older downloads)
    ROOT/LIDC-IDRI-dddd/<any folders>/*.dcm                 (current TCIA downloads)

and current downloads name files differently from the annotation database, so
slices are matched by the z position in their headers. The index of a series
(z position -> file) reads headers only, once; it is kept as JSON in the cache
and trusted, folder included, while the folder's modification time and file
names are unchanged: adding, removing or renaming a file changes both, and
one stat and one listing per series is what lets a second run check a whole
download in seconds. A file rewritten in place keeps the index (its header
gives the same z); its pixels are read fresh, and a damaged one is an error
naming it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from lidcbench.cachedir import cache_root, write_atomically
from lidcbench.errors import DicomSeriesError

from .dicom_header import read_slice_header

INDEX_VERSION = 2  # 2: folders compared by modification time and names, not every file's stat
INDEX_FOLDER = "dicom-index"
# Slices of a scan lie >= 0.45 mm apart in LIDC-IDRI; a header z within this of the
# annotation database's z is the same slice.
Z_TOLERANCE_MM = 0.1
_HEADER_TAGS = ["StudyInstanceUID", "SeriesInstanceUID", "ImagePositionPatient", "InstanceNumber"]
# What pydicom raises on a truncated or malformed file.
READ_ERRORS = (InvalidDicomError, OSError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError)


@dataclass(frozen=True)
class SeriesIndex:
    """A series folder and its slices: sorted unique ``z`` (mm) and the file at each."""

    folder: Path
    z: np.ndarray
    files: tuple[str, ...]

    def file_at(self, z: float) -> Path | None:
        """The file whose slice lies at ``z`` (within :data:`Z_TOLERANCE_MM`), or None."""
        if not len(self.z):
            return None
        nearest = int(np.abs(self.z - z).argmin())
        return self.folder / self.files[nearest] if abs(self.z[nearest] - z) <= Z_TOLERANCE_MM else None


def find_series_folder(root: Path, patient_id: str, study_uid: str, series_uid: str) -> Path | None:
    """The folder holding the series under ``root`` in either layout, or None."""
    patient = root / patient_id
    if not patient.is_dir():
        return None
    old_layout = patient / study_uid / series_uid
    if old_layout.is_dir():
        return old_layout
    for folder, _, names in sorted(os.walk(patient)):
        header = _first_readable_header(Path(folder), _dicom_names(names))
        if header is not None and _uids(header) == (study_uid, series_uid):
            return Path(folder)
    return None


def series_index(folder: Path, study_uid: str, series_uid: str, scan: str, index_dir: Path | None = None) -> SeriesIndex:
    """The z index of the series in ``folder``, from the cache when the folder is unchanged.

    ``scan`` names the scan in error messages.
    """
    cached = _index_path(series_uid, index_dir)
    listing = _listing(folder)
    stored = _read_index(cached)
    if stored and stored["folder"] == str(folder) and stored["listing"] == listing:
        slices = stored["slices"]
    else:
        slices = _index_headers(folder, listing["names"], study_uid, series_uid, scan)
        record = {"version": INDEX_VERSION, "folder": str(folder), "listing": listing, "slices": slices}
        write_atomically(cached, json.dumps(record).encode())
    return SeriesIndex(folder=folder, z=np.array([z for z, _ in slices], dtype=np.float64),
                       files=tuple(name for _, name in slices))


def indexed_folder(patient: Path, series_uid: str, index_dir: Path | None = None) -> Path | None:
    """The folder under ``patient`` where the series was indexed, if it is still there unchanged
    (so a second run finds it without reading any header); else None."""
    stored = _read_index(_index_path(series_uid, index_dir))
    if not stored:
        return None
    folder = Path(stored["folder"])
    try:
        unchanged = folder.is_relative_to(patient) and _listing(folder) == stored["listing"]
    except OSError:
        return None  # gone since
    return folder if unchanged else None


def _index_path(series_uid: str, index_dir: Path | None) -> Path:
    return (index_dir or cache_root() / INDEX_FOLDER) / f"{series_uid}.json"


def _index_headers(folder: Path, names: list[str], study_uid: str, series_uid: str, scan: str) -> list:
    by_z: dict[float, tuple[int, str]] = {}
    for name in names:
        try:
            values = read_slice_header(folder / name) or _pydicom_header(folder / name, (study_uid, series_uid))
            if values is None:
                continue  # another series' file
            z, number = values[2:]
        except READ_ERRORS as error:
            raise DicomSeriesError(
                f"{scan}: cannot read the DICOM header of {folder / name} ({error}). "
                f"Re-download this series or remove the damaged file."
            ) from None
        if values[:2] != (study_uid, series_uid):
            continue
        # Two files at one z: keep the lower instance number, as pylidc does.
        if z not in by_z or number < by_z[z][0]:
            by_z[z] = (number, name)
    return [[z, by_z[z][1]] for z in sorted(by_z)]


def _pydicom_header(path: Path, uids: tuple[str, str]) -> tuple[str, str, float, int] | None:
    """What :func:`read_slice_header` reads, by pydicom, for the files its fast path leaves alone;
    None for a file of another series (which may have no slice position)."""
    header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_HEADER_TAGS)
    if _uids(header) != uids:
        return None
    return (*uids, float(header.ImagePositionPatient[2]), int(header.get("InstanceNumber") or 0))


def _read_index(path: Path) -> dict | None:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent or damaged: rebuilt from the headers
    return stored if isinstance(stored, dict) and stored.get("version") == INDEX_VERSION else None


def _listing(folder: Path) -> dict:
    """What tells whether a folder changed: its modification time and its DICOM file names."""
    mtime = os.stat(folder).st_mtime_ns
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if _is_dicom_name(e.name) and e.is_file())
    return {"mtime_ns": mtime, "names": names}


def _first_readable_header(folder: Path, names: list[str]) -> pydicom.Dataset | None:
    for name in sorted(names):
        try:
            return pydicom.dcmread(folder / name, stop_before_pixels=True, specific_tags=_HEADER_TAGS[:2])
        except READ_ERRORS:
            continue
    return None


def _uids(header: pydicom.Dataset) -> tuple[str, str]:
    return str(header.get("StudyInstanceUID", "")).strip(), str(header.get("SeriesInstanceUID", "")).strip()


def _dicom_names(names: list[str]) -> list[str]:
    return [name for name in names if _is_dicom_name(name)]


def _is_dicom_name(name: str) -> bool:
    return name.endswith(".dcm") and not name.startswith(".")  # pylidc's rule
