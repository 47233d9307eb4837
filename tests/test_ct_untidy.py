"""Real downloads are untidy: X-ray series beside the CT, annotation XML in series folders, two files
at one z, a file cut short. Each gives the right patch or a one-line error naming the scan and the file."""
import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from lidcbench.errors import DicomSeriesError
from lidcbench.patches.cache import load_patches
from lidcbench.patches.sources.ct import DICOM_ROOT_ENV, CtSource
from lidcbench.patches.sources.synthetic_ct import _dataset, write_series

pytestmark = pytest.mark.lidc_ct
SIZE = 32
SCAN_ID = 936  # LIDC-IDRI-0719, one small nodule; only the slices it spans are written


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(DICOM_ROOT_ENV, raising=False)


@pytest.fixture
def scan(cohort, tmp_path):
    """One scan's nodule slices in TCIA's layout, with the patches of a clean copy to compare with."""
    nodules = cohort.table[cohort.table["scan_id"] == SCAN_ID]
    slices = {k for ks in nodules["slices"] for k in ks}
    clean = tmp_path / "clean"
    write_series(SCAN_ID, nodules, clean, "tcia", slices=slices)
    rows = nodules.to_dict("records")
    expected = [CtSource(clean, index_dir=tmp_path / "clean-index").render_nodule(row, SIZE)[0] for row in rows]
    root = tmp_path / "untidy"
    folder = write_series(SCAN_ID, nodules, root, "tcia", slices=slices)
    return root, folder, rows, expected


def _patches_equal(root, rows, expected, tmp_path):
    source = CtSource(root, index_dir=tmp_path / "index")
    for row, patches in zip(rows, expected):
        assert np.array_equal(source.render_nodule(row, SIZE)[0], patches), row["nodule_id"]


def _xray(folder, scan_row, modality, files=3):
    """A CR or DX series of the same patient (other study and series UIDs), several files."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    for number in range(1, files + 1):
        dataset = _dataset(scan_row, 0.0, number, np.zeros((16, 16)), (1.0, 0.0), study_uid=study, series_uid=series)
        dataset.Modality = modality
        del dataset.ImagePositionPatient  # projection images have no slice position
        dataset.save_as(folder / f"1-{number}.dcm", enforce_file_format=True)


def test_xray_series_beside_the_ct_are_ignored(scan, tmp_path):
    root, folder, rows, expected = scan
    patient = root / rows[0]["patient_id"]
    _xray(patient / "01-01-2000-NA-CHEST CR-11111" / "1.000000-NA-22222", rows[0], "CR")
    _xray(patient / "01-01-2000-NA-CHEST DX-33333" / "2.000000-NA-44444", rows[0], "DX")
    _xray(folder.parent / "4.000000-NA-55555", rows[0], "DX")  # in the CT's own study folder too
    _patches_equal(root, rows, expected, tmp_path)


def test_an_xml_file_in_the_series_folder_is_ignored(scan, tmp_path):
    root, folder, rows, expected = scan
    (folder / "069.xml").write_text("<?xml version='1.0'?><LidcReadMessage></LidcReadMessage>")
    _patches_equal(root, rows, expected, tmp_path)


@pytest.mark.parametrize("name", ["0-duplicate.dcm", "9-duplicate.dcm"])  # listed before or after the original
def test_two_files_at_one_z_keep_the_lower_instance_number_as_pylidc_does(scan, tmp_path, name):
    root, folder, rows, expected = scan
    row = rows[0]
    k = row["slices"][len(row["slices"]) // 2]
    original = next(p for p in folder.glob("*.dcm") if int(pydicom.dcmread(p).InstanceNumber) == k + 1)
    duplicate = pydicom.dcmread(original)
    duplicate.InstanceNumber = 9000 + k  # a later copy of the slice at the same z, with other pixels
    duplicate.PixelData = np.zeros((512, 512), dtype=np.int16).tobytes()
    duplicate.save_as(folder / name, enforce_file_format=True)
    _patches_equal(root, rows, expected, tmp_path)


@pytest.mark.parametrize("cut", [100, 200_000])
def test_a_file_cut_short_is_a_one_line_error_naming_the_scan_and_the_file(scan, tmp_path, cut):
    root, folder, rows, _ = scan
    row = rows[0]
    victim = next(p for p in folder.glob("*.dcm") if int(pydicom.dcmread(p).InstanceNumber) == row["slices"][0] + 1)
    victim.write_bytes(victim.read_bytes()[:-cut])
    with pytest.raises(DicomSeriesError) as error:
        CtSource(root, index_dir=tmp_path / "index").render_nodule(row, SIZE)
    message = str(error.value)
    assert row["patient_id"] in message and victim.name in message and "\n" not in message


def test_a_file_cut_short_stops_a_parallel_build_with_the_same_error(scan, tmp_path, cohort):
    root, folder, rows, _ = scan
    victim = next(p for p in folder.glob("*.dcm") if int(pydicom.dcmread(p).InstanceNumber) == rows[-1]["slices"][0] + 1)
    victim.write_bytes(victim.read_bytes()[:-1000])
    small = cohort.table[cohort.table["scan_id"] == SCAN_ID]
    import dataclasses

    with pytest.raises(DicomSeriesError, match=f"{rows[-1]['patient_id']}.*{victim.name}"):
        load_patches(dataclasses.replace(cohort, table=small), CtSource(root), size=SIZE, progress=False, workers=2)
