"""Indexing a DICOM download: per file and per series, cold and warm, extrapolated to all of LIDC-IDRI.

Synthetic series in TCIA's current layout (with a chest X-ray series beside
each CT, as real patient folders hold) are written for several real scans of
the annotation database, every slice at full 512 x 512 size. Three steps of a
``cache build --source ct`` are timed apart:

- locate: finding each scan's series folder (one header per folder in TCIA's layout), without
  and with the index of an earlier run;
- index, cold: every slice's header read (pixel data never), on 1 process and on all cores,
  by the fast reader and, for comparison, by pydicom alone (the code before it);
- index, warm: the second run's check that nothing changed (one stat and one listing per series,
  no header read). A second run's whole check is locate with the index present plus this.

Files sit in the page cache, so "cold" means no index yet, not a cold disk:
on a real first download the disk adds its own time. Each benchmark's
``extra_info`` extrapolates to the whole collection (:data:`WHOLE_SERIES`
series, :data:`WHOLE_FILES` files, the issue's round figures). Run with
``tox -e benchmark -- benchmarks/test_ct_index.py``.
"""
import shutil

import pytest

from lidcbench.patches.rendering import available_cores
from lidcbench.patches.sources.ct import CtSource
from lidcbench.patches.sources.synthetic_ct import write_series
from lidcbench.protocol.cohort import load_cohort

SCAN_IDS = (79, 1, 698, 936)  # 4 real scans, 507 slices together
VENDOR_ELEMENTS = 75  # each side of group 0020: headers of ~170 elements, like a scanner's
WHOLE_SERIES = 1_000
WHOLE_FILES = 240_000


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    root = tmp_path_factory.mktemp("LIDC-IDRI")
    table = load_cohort().table
    scans = table[table["scan_id"].isin(SCAN_IDS)]
    for scan_id in SCAN_IDS:
        write_series(scan_id, scans[scans["scan_id"] == scan_id], root, layout="tcia",
                     vendor_elements=VENDOR_ELEMENTS)
    files = sum(1 for path in root.rglob("*.dcm") if "CXR" not in str(path))
    return root, scans, files


def _extrapolate(benchmark, files, series, seconds):
    benchmark.extra_info.update(
        cores=available_cores(), files=files, series=series,
        ms_per_file=round(1000 * seconds / files, 3), ms_per_series=round(1000 * seconds / series, 1),
        whole_download_s_by_files=round(seconds / files * WHOLE_FILES, 1),
        whole_download_s_by_series=round(seconds / series * WHOLE_SERIES, 1),
    )


@pytest.mark.parametrize("index", ["none", "present"])
@pytest.mark.benchmark(group="ct index: locate series folders")
def test_locate_series(benchmark, download, tmp_path, index):
    """``none``: a first run walks each patient folder, one header per folder; ``present``: a second
    run takes each series' folder from its index after checking the folder unchanged."""
    root, scans, files = download
    if index == "present":
        CtSource(root, index_dir=tmp_path / "index").prepare(scans)
    benchmark.pedantic(lambda: CtSource(root, index_dir=tmp_path / "index").missing(scans), rounds=5,
                       warmup_rounds=1)
    _extrapolate(benchmark, files, len(SCAN_IDS), benchmark.stats.stats.mean)


@pytest.mark.parametrize("reader", ["fast", "pydicom"])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.benchmark(group="ct index: headers, cold (no index yet)")
def test_index_cold(benchmark, download, tmp_path, workers, reader, monkeypatch):
    """``pydicom``: every header read by pydicom, as before the fast reader (the baseline)."""
    root, scans, files = download
    if reader == "pydicom":
        monkeypatch.setattr("lidcbench.patches.sources.dicom_series.read_slice_header", lambda path: None)
    index_dir = tmp_path / "index"

    def fresh():
        shutil.rmtree(index_dir, ignore_errors=True)
        source = CtSource(root, index_dir=index_dir)
        source.missing(scans)  # located before, as in a build
        return (source,), {}

    benchmark.pedantic(lambda source: source.prepare(scans, workers), setup=fresh, rounds=3)
    _extrapolate(benchmark, files, len(SCAN_IDS), benchmark.stats.stats.mean)
    benchmark.extra_info["workers"] = workers


@pytest.mark.benchmark(group="ct index: unchanged check (index present)")
def test_index_warm(benchmark, download, tmp_path):
    root, scans, files = download
    source = CtSource(root, index_dir=tmp_path / "index")
    source.missing(scans)
    source.prepare(scans, 1)
    benchmark.pedantic(lambda: source.prepare(scans, 1), rounds=10, warmup_rounds=1)
    _extrapolate(benchmark, files, len(SCAN_IDS), benchmark.stats.stats.mean)


@pytest.mark.parametrize("size", [64, 256])
@pytest.mark.benchmark(group="ct index: render after indexing, per nodule")
def test_render_after_indexing(benchmark, download, tmp_path, size):
    """Per-nodule rate of a cache build's rendering, extrapolated to the cohort on every core."""
    root, scans, _ = download
    source = CtSource(root, index_dir=tmp_path / "index")
    source.missing(scans)
    source.prepare(scans, 1)
    rows = scans.to_dict("records")
    benchmark.pedantic(lambda: [source.render_nodule(row, size) for row in rows], rounds=3, warmup_rounds=1)
    per_nodule = benchmark.stats.stats.mean / len(rows)
    cohort = load_cohort().table
    benchmark.extra_info.update(
        nodules=len(rows), slices=int(scans["slices"].map(len).sum()), ms_per_nodule=round(1000 * per_nodule, 1),
        cohort_nodules=len(cohort), cores=available_cores(),
        cohort_build_s_est=round(per_nodule * len(cohort) / available_cores(), 1),
    )
