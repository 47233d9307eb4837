"""Indexing a download once: headers read in parallel with progress, pixels never, and a second run
that finds every series and checks it unchanged without reading a header."""
import io
import shutil

import pydicom
import pytest
from rich.console import Console

import lidcbench.patches.sources.dicom_series as dicom_series
from lidcbench.patches.sources.ct import DICOM_ROOT_ENV, CtSource
from lidcbench.patches.sources.synthetic_ct import write_series

pytestmark = pytest.mark.lidc_ct
SCAN_IDS = (1, 936, 698)


@pytest.fixture(scope="module")
def download(tmp_path_factory, cohort):
    root = tmp_path_factory.mktemp("LIDC-IDRI")
    scans = cohort.table[cohort.table["scan_id"].isin(SCAN_IDS)]
    for scan_id in SCAN_IDS:
        nodules = scans[scans["scan_id"] == scan_id]
        write_series(scan_id, nodules, root, "tcia", slices={k for ks in nodules["slices"] for k in ks},
                     vendor_elements=20)
    return root, scans


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(DICOM_ROOT_ENV, raising=False)


def _count_reads(monkeypatch):
    reads = {"fast": 0, "pydicom": 0}
    fast, full = dicom_series.read_slice_header, pydicom.dcmread

    def counting_fast(path):
        reads["fast"] += 1
        return fast(path)

    def counting_pydicom(*args, **kwargs):
        reads["pydicom"] += 1
        return full(*args, **kwargs)

    monkeypatch.setattr(dicom_series, "read_slice_header", counting_fast)
    monkeypatch.setattr(pydicom, "dcmread", counting_pydicom)
    return reads


def test_indexing_reads_headers_only_in_parallel_with_progress_over_series(download, tmp_path, monkeypatch):
    root, scans = download
    one = CtSource(root, index_dir=tmp_path / "one")
    one.missing(scans)
    reads = _count_reads(monkeypatch)
    one.prepare(scans, workers=1)
    files = sum(1 for path in root.rglob("*.dcm") if "CXR" not in str(path))
    # Every slice's header by the fast reader, no pixel data and no pydicom parse at all.
    assert reads == {"fast": files, "pydicom": 0}
    output = io.StringIO()
    parallel = CtSource(root, index_dir=tmp_path / "two")
    parallel.missing(scans)
    parallel.prepare(scans, workers=2, console=Console(file=output, force_terminal=False, width=100))
    assert f"{len(SCAN_IDS)}/{len(SCAN_IDS)} series" in output.getvalue()
    for uid in scans["series_uid"].unique():
        assert (tmp_path / "one" / f"{uid}.json").read_text() == (tmp_path / "two" / f"{uid}.json").read_text()


def test_a_second_run_finds_and_checks_every_series_without_reading_a_header(download, tmp_path, monkeypatch):
    root, scans = download
    first = CtSource(root, index_dir=tmp_path / "index")
    first.missing(scans)
    first.prepare(scans)
    reads = _count_reads(monkeypatch)
    walks = []
    monkeypatch.setattr(dicom_series.os, "walk", lambda *a, **k: walks.append(a) or iter(()))
    second = CtSource(root, index_dir=tmp_path / "index")
    assert second.missing(scans).empty
    second.prepare(scans)
    assert reads == {"fast": 0, "pydicom": 0} and walks == []


def test_a_changed_series_folder_is_indexed_again(download, tmp_path, cohort):
    root, scans = download
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    row = scans[scans["scan_id"] == 936].iloc[0].to_dict()
    source = CtSource(copy, index_dir=tmp_path / "index")
    source.prepare(scans)
    folder = source._folder(row)
    k = row["slices"][0]
    (victim,) = [p for p in folder.glob("*.dcm") if int(pydicom.dcmread(p).InstanceNumber) == k + 1]
    victim.rename(folder / "renamed.dcm")
    index = dicom_series.series_index(folder, row["study_uid"], row["series_uid"], "scan", tmp_path / "index")
    assert index.file_at(float(index.z[list(index.files).index("renamed.dcm")])) == folder / "renamed.dcm"
    # and a folder moved elsewhere (another DICOM root) is not taken from the old index
    assert dicom_series.indexed_folder(tmp_path / "elsewhere" / row["patient_id"], row["series_uid"],
                                       tmp_path / "index") is None
