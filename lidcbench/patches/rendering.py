"""Rendering a cohort's patches on every core, each chunk checksummed where it was rendered.

Nodules go to worker processes in units of about :data:`CHUNK_SLICES` patches;
each unit comes back as float16 patches plus their chunk with its CRC-32
(:mod:`.patchfile`), in whatever order units finish. A source's output is
checked here, so a broken source stops the build with a named error.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

import numpy as np

from lidcbench.errors import SourceError

from .patchfile import STORED_DTYPE, Chunk
from .sources import Source

CHUNK_SLICES = 48  # patches per work unit: ~6 MB of float16 at 256 px


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def render_all(source: Source, rows: list[dict], size: int, workers: int,
               console=None, voxel_mm: float | None = None) -> Iterator[tuple[int, np.ndarray, Chunk]]:
    """(index of the first image, float16 images, their chunk) per unit, as units finish.

    Patches are numbered in row order, each row's slices in its ``slices`` order.
    With ``voxel_mm``, each row is one cube (:meth:`Source.render_volume`) stored as
    ``size`` consecutive images, its z planes in order.
    ``console``: a rich console for the progress bar, or None for none.
    """
    counts = [size if voxel_mm else len(row["slices"]) for row in rows]
    firsts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    jobs = [(source, rows[start:stop], size, int(firsts[start]), voxel_mm) for start, stop in _units(counts)]
    what = f"{source.name} volumes, {size}^3 at {voxel_mm:g} mm" if voxel_mm else f"{source.name} patches, {size} px"
    # Workers start before the progress bar's thread does, so no thread is forked mid-lock.
    with _results(jobs, workers) as results, _progress(console, what, len(rows)) as advance:
        for first, stored, chunk, n_rows in results:
            yield first, stored, chunk
            advance(n_rows)


@contextlib.contextmanager
def _results(jobs: list[tuple], workers: int) -> Iterator[Iterator[tuple]]:
    if workers <= 1 or len(jobs) <= 1:
        yield (_render_unit(*job) for job in jobs)
        return
    # fork on Linux: workers inherit the loaded annotation tables, and user scripts need
    # no `if __name__ == "__main__"` guard. Elsewhere the platform's default (fork is
    # unsafe with macOS system libraries).
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context)
    try:
        running: set[Future] = {pool.submit(_render_unit, *job) for job in jobs}

        def finished() -> Iterator[tuple]:
            nonlocal running
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)

        yield finished()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _render_unit(source: Source, rows: list[dict], size: int, first: int,
                 voxel_mm: float | None = None) -> tuple[int, np.ndarray, Chunk, int]:
    """Runs in a worker process: render and check each nodule, then checksum where the pixels are."""
    counts = [size if voxel_mm else len(row["slices"]) for row in rows]
    stored = np.empty((sum(counts), size, size), dtype=STORED_DTYPE)
    filled = 0
    for row in rows:
        images = _volume(source, row, size, voxel_mm) if voxel_mm else _slices(source, row, size)
        stored[filled:filled + len(images)] = images
        filled += len(images)
    chunk = Chunk.of(stored, first)
    return first, chunk.data, chunk, len(rows)


def _slices(source: Source, row: dict, size: int) -> np.ndarray:
    images, indices = source.render_nodule(row, size)
    expected = (len(row["slices"]), size, size)
    if np.shape(images) != expected or list(indices) != list(row["slices"]) or not np.isfinite(images).all():
        raise SourceError(
            f"source {source.name!r} rendered {row['nodule_id']} as {np.shape(images)} patches of slices "
            f"{list(indices)}; expected {expected} finite patches of slices {list(row['slices'])}."
        )
    return images


def _volume(source: Source, row: dict, size: int, voxel_mm: float) -> np.ndarray:
    volume = source.render_volume(row, size, voxel_mm)
    if np.shape(volume) != (size, size, size) or not np.isfinite(volume).all():
        raise SourceError(f"source {source.name!r} rendered {row['nodule_id']} as a volume of shape "
                          f"{np.shape(volume)}; expected a finite {(size, size, size)} cube.")
    return volume


def _units(counts: list[int]) -> list[tuple[int, int]]:
    """Consecutive row ranges of about CHUNK_SLICES patches each."""
    units, start, patches = [], 0, 0
    for index, count in enumerate(counts):
        patches += count
        if patches >= CHUNK_SLICES:
            units.append((start, index + 1))
            start, patches = index + 1, 0
    if start < len(counts):
        units.append((start, len(counts)))
    return units


@contextlib.contextmanager
def _progress(console, description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar over ``total`` nodules on ``console``; nothing when console is None."""
    if console is None:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), "nodules", TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
