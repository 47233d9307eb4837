"""Fold jobs on this machine: in this process, or in worker processes.

``--jobs N`` starts N workers (``concurrent.futures`` with spawned processes),
each limited to its share of the cores, since N processes that each use every
core fight over them and finish later than one. ``--gpus 0,1,2,3`` gives
worker k the GPU ``gpus[k % len(gpus)]`` through ``CUDA_VISIBLE_DEVICES``; a
GPU named twice is shared by two workers.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from lidcbench.errors import ExecutorError, LidcbenchError

from .. import warning_line
from . import worker
from .grid import GridJob
from .view import JobView


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    return max(1, available_cores() // workers)


def oversubscription(workers: int) -> str | None:
    """Why ``workers`` jobs at once will not fit this machine's cores, or None when they do."""
    cores, threads = available_cores(), threads_per_worker(workers)
    if workers * threads <= cores:
        return None
    return (f"--jobs {workers} x {threads} thread(s) each is more than the {cores} core(s) here: the jobs will "
            f"take turns on the cores and finish later than with --jobs {cores}. --jobs helps with a GPU per "
            "job (--gpus) or many cores; see docs/scale.md.")


def cpu_sharing_note(workers: int, gpus: list) -> str | None:
    """Workers without GPUs that fit the cores still share them: say so once (None with GPUs or one worker)."""
    if gpus or workers < 2 or oversubscription(workers) is not None:
        return None
    cores, threads = available_cores(), threads_per_worker(workers)
    return (f"--jobs {workers} without GPUs: each job gets {threads} of the {cores} core(s), so the jobs finish no "
            "sooner than one at a time with every core, and often later (see docs/scale.md).")


def check_jobs(jobs: int) -> int:
    if jobs < 1:
        raise ExecutorError(f"--jobs {jobs}: give the number of fold jobs to run at once, 1 or more.")
    return jobs


def parse_gpus(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        gpus = [int(part) for part in text.split(",")]
    except ValueError:
        gpus = [-1]
    if any(g < 0 for g in gpus):
        raise ExecutorError(f"--gpus {text!r}: give GPU numbers separated by commas, e.g. 0,1,2,3.")
    return gpus


def check_gpus(gpus: list[int]) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` value of each GPU asked for (this process's visible GPUs, by index)."""
    if not gpus:
        return []
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = sorted({g for g in gpus if g >= count})
    if missing:
        seen = f"GPUs 0-{count - 1}" if count else "no GPU"
        raise ExecutorError(f"--gpus names GPU {', '.join(map(str, missing))}, but torch sees {seen} here; "
                            "`nvidia-smi -L` lists them.")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")  # already narrowed: index into it
    names = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(count)]
    return [names[g] for g in gpus]


def run_in_process(jobs: list[GridJob], view: JobView) -> None:
    """One job after another in this process (``--jobs 1`` without ``--gpus``): errors stop the run."""
    from lidcbench import progress
    from lidcbench.results.skips import FoldSkipped

    from ..fold import run_fold

    for grid_job in jobs:
        view.started(grid_job.label, "this process")
        try:
            with progress.reporting_to(view.reporter(grid_job.label)):
                record, path = run_fold(grid_job.job, show_progress=False)
        except FoldSkipped as skipped:  # e.g. no test nodule has its scan: a marker, not a record
            view.skipped(grid_job.label, skipped.marker.reason)
            continue
        view.finished(grid_job.label, worker.record_auc(record), str(path))


class Workers:
    """``workers`` worker processes, started at once so that their imports and cohort loading overlap
    the runner's own preparation (:func:`lidcbench.running.executors.grid.prepare_data`)."""

    def __init__(self, workers: int, gpus: list[str], protocols: list[dict]):
        context = multiprocessing.get_context("spawn")  # no forked copies of torch's or rich's state
        self.events, counter = context.Queue(), context.Value("i", 0)
        self.pool = ProcessPoolExecutor(workers, mp_context=context, initializer=worker.initialise,
                                        initargs=(counter, gpus, threads_per_worker(workers), self.events,
                                                  protocols, warning_line.installed()))
        for _ in range(workers):  # the pool starts a process per task while none is idle
            self.pool.submit(worker.limits)

    def run(self, jobs: list[GridJob], view: JobView) -> None:
        """Up to ``workers`` jobs at once; a job that fails is reported and the others go on."""
        futures = {self.pool.submit(worker.run, j.job, j.label): j for j in jobs}
        running = set(futures)
        while running:
            done, running = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(self.events, view)
            for future in done:
                _report(future, futures[future].label, view)
        _drain(self.events, view)

    def close(self) -> None:
        # After Ctrl-C the workers got the same signal; records are atomic and checkpoints stay for the rerun.
        self.pool.shutdown(wait=True, cancel_futures=True)


def _drain(events, view: JobView) -> None:
    while True:
        try:
            kind, label, *rest = events.get_nowait()
        except queue.Empty:
            return
        if kind == "started":
            view.started(label, *rest)
        else:
            view.progress(label, *rest)


def _report(future, label: str, view: JobView) -> None:
    from lidcbench.results.skips import FoldSkipped

    try:
        path, auc = future.result()
    except FoldSkipped as skipped:
        view.skipped(label, skipped.marker.reason)
    except LidcbenchError as error:
        view.failed(label, str(error))
    except Exception as error:  # a bug or a crash in the job: its last line; the traceback is on stderr
        view.failed(label, f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error) else ''}")
    else:
        view.finished(label, auc, path)
