"""Synthetic DICOM series for real scans of the annotation database.

Tests and benchmarks of the ``ct`` source run without LIDC-IDRI: a series gets
the scan's patient id, study and series UIDs, slice z positions and pixel
spacing, and a dense blob on every slice a cohort nodule spans, centred on the
nodule's crop. The background changes with row, column and slice, so a patch
cut from the wrong slice or transposed does not look right. File names follow
neither the annotation database nor the slice order.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from lidcbench.protocol.database import load_annotations, load_contours
from lidcbench.protocol.geometry import CROP_FACTOR, nodule_geometry

BLOB_HU = 150.0
IMAGE_SIZE = 512
LAYOUTS = ("uids", "tcia")  # ROOT/patient/study/series and ROOT/patient/<TCIA folders>


def background_hu(k: int, size: int = IMAGE_SIZE) -> np.ndarray:
    rows, cols = np.indices((size, size))
    return -900.0 + 0.25 * rows + 0.5 * cols + 2.0 * (k % 100)


def write_series(scan_id: int, nodules: pd.DataFrame, root: Path, layout: str = "uids",
                 slices: Iterable[int] | None = None, rescale: tuple[float, float] = (1.0, -1024.0),
                 vendor_elements: int = 0) -> Path:
    """Write the series of ``scan_id`` under ``root`` and return its folder.

    nodules: cohort rows of this scan, each drawn as a blob. slices: which slice
    indices to write (default all). rescale: (slope, intercept) of every file.
    vendor_elements: private elements added before and after group 0020 (each
    that many), so that headers are as long as a scanner's (~150 elements).
    """
    scan = load_annotations().table.query("scan_id == @scan_id").iloc[0]
    zs = load_contours().slice_z[scan_id]
    wanted = sorted(range(len(zs)) if slices is None else set(slices))
    folder = _series_folder(root, scan, layout)
    folder.mkdir(parents=True, exist_ok=True)
    blobs = _blobs(nodules)
    names = np.random.default_rng(scan_id).permutation(len(zs)) + 1
    for k in wanted:
        hu = background_hu(k)
        for centre, radius, nodule_slices in blobs:
            if k in nodule_slices:
                rows, cols = np.indices(hu.shape)
                hu[(rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2] = BLOB_HU
        dataset = _dataset(scan, float(zs[k]), k + 1, hu, rescale)
        for i in range(vendor_elements):
            dataset.add_new((0x0019, 0x1000 + i), "LO", f"vendor value {i}")
            dataset.add_new((0x0043, 0x1000 + i), "DS", f"{i}.5")
        dataset.save_as(folder / f"1-{names[k]:03d}.dcm", enforce_file_format=True)
    if layout == "tcia":
        _write_decoy(folder.parent.parent / "01-01-2000-NA-CXR-00001" / "1.000000-NA-00001", scan)
    return folder


def _blobs(nodules: pd.DataFrame) -> list[tuple[tuple[float, float], float, set[int]]]:
    blobs = []
    for row in nodules.to_dict("records"):
        geometry = nodule_geometry(row)
        radius = max(geometry.crop.side / CROP_FACTOR / 4, 1.5)
        blobs.append((geometry.crop.centre, radius, set(geometry.slices)))
    return blobs


def _series_folder(root: Path, scan: pd.Series, layout: str) -> Path:
    patient = Path(root) / scan["patient_id"]
    if layout == "uids":
        return patient / scan["study_uid"] / scan["series_uid"]
    if layout == "tcia":
        return patient / "01-01-2000-NA-NA-30178" / f"{3000000 + int(scan['scan_id'])}.000000-NA-03192"
    raise ValueError(f"layout {layout!r} is not one of {LAYOUTS}")


def _dataset(scan: pd.Series, z: float, instance: int, hu: np.ndarray, rescale: tuple[float, float],
             study_uid: str | None = None, series_uid: str | None = None) -> pydicom.Dataset:
    slope, intercept = rescale
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "CT"
    dataset.PatientID = scan["patient_id"]
    dataset.StudyInstanceUID = study_uid or scan["study_uid"]
    dataset.SeriesInstanceUID = series_uid or scan["series_uid"]
    dataset.InstanceNumber = instance
    dataset.ImagePositionPatient = [-160.0, -160.0, z]
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    dataset.PixelSpacing = [scan["pixel_spacing"], scan["pixel_spacing"]]
    dataset.SliceThickness = scan["slice_thickness"]
    dataset.RescaleSlope, dataset.RescaleIntercept = slope, intercept
    stored = np.round((hu - intercept) / slope).astype(np.int16)
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 1
    dataset.PixelData = stored.tobytes()
    return dataset


def _write_decoy(folder: Path, scan: pd.Series) -> None:
    """Another series of the same patient, as TCIA downloads hold (e.g. a chest X-ray)."""
    folder.mkdir(parents=True, exist_ok=True)
    decoy = _dataset(scan, 0.0, 1, np.zeros((8, 8)), (1.0, 0.0), study_uid=generate_uid(), series_uid=generate_uid())
    decoy.save_as(folder / "1-1.dcm", enforce_file_format=True)
