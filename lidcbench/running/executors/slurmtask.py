"""The callable a SLURM array task runs (imports submitit: only loaded with ``--executor slurm``)."""
from __future__ import annotations

import os

import submitit


class FoldTask(submitit.helpers.Checkpointable):
    """One fold job in one array task.

    On a timeout or a preemption signal, submitit's :meth:`checkpoint` requeues
    the task with the same job; a task requeued by SLURM (``scontrol requeue``)
    starts this call again. Either way :func:`lidcbench.running.fold.run_fold` finds the
    job's checkpoint beside its record and resumes from it; a job whose record
    was written before the stop is not repeated.
    """

    def __init__(self, force: bool = False):
        self.force = force  # redo a job whose record exists (--force)

    def __call__(self, job) -> tuple[str, float | None]:
        from .slurm import log_progress
        from .worker import limit_threads, record_auc

        limit_threads(int(os.environ.get("SLURM_CPUS_PER_TASK") or 1))
        from lidcbench.results.records import read_record

        from ..fold import plan, record_location, run_fold

        path = record_location(plan(job))
        if path.is_file() and not self.force:
            return str(path), record_auc(read_record(path))
        from lidcbench import progress

        with progress.reporting_to(log_progress):  # a line per epoch in the task's log, which `follow` reads
            record, path = run_fold(job, show_progress=False)
        return str(path), record_auc(record)
