"""Time to build the contours cache for the whole default cohort, from nothing.

One round per size (a build is minutes of work, and the point is the cold
build): rendering on every core, compression, the atomic write. Run with
``tox -e benchmark``; the machine's core count goes into the record.
"""
import pytest

from lidcbench.patches.cache import load_patches
from lidcbench.patches.rendering import available_cores
from lidcbench.protocol.cohort import load_cohort


@pytest.mark.parametrize("size", [64, 256])
@pytest.mark.benchmark(group="contours cache: full cohort build")
def test_full_contours_cache_build(benchmark, tmp_path, size):
    cohort = load_cohort()
    folders = iter(range(10))

    def fresh_cache():
        return (), {"cache_dir": tmp_path / f"cache-{next(folders)}"}

    def build(cache_dir):
        return load_patches(cohort, "contours", size=size, progress=False, cache_dir=cache_dir)

    patches = benchmark.pedantic(build, setup=fresh_cache, rounds=1)
    (path,) = (tmp_path / "cache-0" / "patches").glob("*.patches")
    benchmark.extra_info.update(cores=available_cores(), patches=len(patches), file_mb=round(path.stat().st_size / 1e6))
