"""Micro-benchmarks of the hot paths: scoring, cache loading, one contour slice, one DICOM slice.

Run with ``tox -e benchmark`` (or ``python -m pytest benchmarks --benchmark-enable``);
never part of the default test run, and no figure is asserted.
"""
import numpy as np
import pytest

from lidcbench.patches.cache import load_patches
from lidcbench.patches.sources.contours import ContoursSource
from lidcbench.patches.sources.ct import read_hu
from lidcbench.patches.sources.synthetic_ct import write_series
from lidcbench.protocol.cohort import load_cohort
from lidcbench.scoring.metrics import bootstrap_auc_ci, classification_metrics


@pytest.mark.benchmark(group="micro")
def test_scoring_100000_nodules(benchmark):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 100_000)
    scores = np.clip(labels * 0.3 + rng.random(100_000) * 0.7, 0, 1)
    benchmark(lambda: (classification_metrics(labels, scores), bootstrap_auc_ci(labels, scores, n_resamples=200)))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    load_patches(load_cohort(), "contours", size=64, progress=False, cache_dir=path)
    return path


@pytest.mark.benchmark(group="micro")
def test_loading_the_64px_contours_cache(benchmark, cache_dir):
    from lidcbench.patches import cache

    cohort = load_cohort()

    def first_open():
        cache._OPENED.clear()  # each round opens the file as a new process would: map it, check every CRC
        return load_patches(cohort, "contours", size=64, progress=False, cache_dir=cache_dir)

    patches = benchmark(first_open)
    benchmark.extra_info["patches"] = len(patches)


@pytest.mark.benchmark(group="micro")
def test_rendering_one_contour_nodule(benchmark):
    row = load_cohort().table.iloc[0].to_dict()
    source = ContoursSource()
    images, _ = benchmark(lambda: source.render_nodule(row, 256))
    benchmark.extra_info["slices_per_nodule"] = len(images)


@pytest.mark.benchmark(group="micro")
def test_reading_one_dicom_slice(benchmark, tmp_path):
    table = load_cohort().table
    nodules = table[table["scan_id"] == 79]
    folder = write_series(79, nodules, tmp_path, layout="tcia", slices=[nodules.iloc[0]["slices"][0]])
    (path,) = [p for p in folder.iterdir() if p.is_file()]
    hu = benchmark(lambda: read_hu(path, "LIDC-IDRI-0079"))
    benchmark.extra_info["pixels"] = int(hu.size)
