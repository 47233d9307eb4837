"""Indexing a whole download once: the headers of every series read in parallel, pixels never.

The first ``lidcbench cache build --source ct`` (or run) reads the header of
every DICOM file of the scans it needs (about 240,000 files for all of
LIDC-IDRI) to map each slice's z position to its file; pixel data is never
read (pydicom's ``stop_before_pixels`` with ``specific_tags``). Series are
spread over worker processes behind a progress bar over series. Each series'
index is kept in the cache and trusted while its folder's file names, sizes
and times are unchanged, so a second run only lists the folders.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .dicom_series import series_index


@dataclass(frozen=True)
class Series:
    """One scan's series on disk, and the name error messages give it."""

    folder: Path
    study_uid: str
    series_uid: str
    scan: str


@dataclass(frozen=True)
class IndexReport:
    series: int
    files: int  # slices indexed
    seconds: float


def index_series(series: list[Series], index_dir: Path | None = None, workers: int = 1,
                 console=None) -> IndexReport:
    """Index (or check unchanged) every series, ``workers`` processes at a time; ``console``: a rich
    console for a progress bar over series, or None."""
    started = time.perf_counter()
    files = 0
    with _pool(workers, len(series)) as mapper, _progress(console, len(series)) as advance:
        for count in mapper(_index_one, [(s, index_dir) for s in series]):
            files += count
            advance()
    return IndexReport(len(series), files, time.perf_counter() - started)


def _index_one(job: tuple[Series, Path | None]) -> int:
    series, index_dir = job
    return len(series_index(series.folder, series.study_uid, series.series_uid, series.scan, index_dir).z)


@contextlib.contextmanager
def _pool(workers: int, jobs: int) -> Iterator:
    if workers <= 1 or jobs <= 1:
        yield map
        return
    # fork on Linux, as for rendering: no __main__ guard needed in user scripts.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    with ProcessPoolExecutor(max_workers=min(workers, jobs), mp_context=context) as pool:
        yield lambda function, items: pool.map(function, items, chunksize=1)


@contextlib.contextmanager
def _progress(console, total: int) -> Iterator:
    if console is None or total == 0:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), "series", TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("DICOM headers", total=total)
        yield lambda: bar.advance(task)
