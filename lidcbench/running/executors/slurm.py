"""Fold jobs as one SLURM job array, through submitit (``pip install -e ".[slurm]"``).

:func:`check_slurm` says, before anything is submitted, whether submitit is
installed and a controller answers. :func:`submit` hands the jobs not yet
recorded to ``AutoExecutor.map_array``; :func:`follow` polls them (``squeue``
and submitit's result files, so it needs no accounting database) into the same
live view as local runs, and reports a failed job with its id, the last line
of its error and its log. Ctrl-C while following leaves the jobs running.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lidcbench.errors import ExecutorError

from .grid import GridJob
from .view import JobView
from .worker import THREAD_VARIABLES

PROGRESS_LINE = "lidcbench progress: "  # how a task's log line of progress begins
GRACE_S = 15.0  # a task gone from the queue may still be writing its result on a shared filesystem
START_HINT = "on one machine, `sudo bash scripts/slurm-up.sh` starts a single-node SLURM"


@dataclass(frozen=True)
class SlurmOptions:
    logs: Path = Path("slurm-logs")
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int = 1
    mem_gb: float | None = None
    time_min: int = 60
    array_parallelism: int = 64
    setup: tuple[str, ...] = ()  # shell lines before the job: `module load ...`, `source .venv/bin/activate`


def check_slurm() -> None:
    """One named error unless submitit is installed and a SLURM controller answers."""
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise ExecutorError('--executor slurm needs submitit, an optional extra: pip install -e ".[slurm]" '
                            '(or pip install "submitit>=1.5").') from None
    if shutil.which("sbatch") is None or shutil.which("scontrol") is None:
        raise ExecutorError(f"--executor slurm: no SLURM is reachable from here (no `sbatch` on PATH); run on a "
                            f"cluster's login node, or {START_HINT}.")
    try:
        answer = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
        said = (answer.stdout + answer.stderr).strip().splitlines()
    except (OSError, subprocess.TimeoutExpired) as error:
        answer, said = None, [str(error)]
    if answer is None or answer.returncode != 0 or not any("UP" in line for line in said):
        raise ExecutorError(f"--executor slurm: the SLURM controller does not answer (`scontrol ping`: "
                            f"{said[-1] if said else 'no answer'}); {START_HINT}.")


def submit(jobs: list[GridJob], options: SlurmOptions, force: bool = False) -> list:
    """One job array of ``jobs``; returns submitit's Job objects (one per task)."""
    import submitit

    from .slurmtask import FoldTask

    options.logs.mkdir(parents=True, exist_ok=True)
    executor = submitit.AutoExecutor(folder=options.logs, cluster="slurm")
    # Each task's thread pools take its CPUs, set before Python starts (NumPy loads with the job).
    threads = [f"export {name}=${{SLURM_CPUS_PER_TASK:-1}}" for name in THREAD_VARIABLES]
    parameters = {"name": "lidcbench", "timeout_min": options.time_min, "cpus_per_task": options.cpus_per_job,
                  "slurm_array_parallelism": options.array_parallelism,
                  "slurm_setup": [*options.setup, *threads]}
    if options.gpus_per_job:
        parameters["gpus_per_node"] = options.gpus_per_job
    if options.mem_gb:
        parameters["mem_gb"] = options.mem_gb
    if options.partition:
        parameters["slurm_partition"] = options.partition
    executor.update_parameters(**parameters)
    try:
        return executor.map_array(FoldTask(force=force), [j.job for j in jobs])
    except Exception as error:  # sbatch refused: a bad partition, too many resources
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise ExecutorError(f"sbatch refused the job array: {lines[-1]}") from None


def array_id(submitted: list) -> str:
    return str(submitted[0].job_id).split("_")[0]


def follow(submitted: list, jobs: list[GridJob], view: JobView, poll_s: float = 1.0) -> None:
    """Poll until every task has finished or failed, updating ``view``."""
    labels = {str(job.job_id): grid_job.label for job, grid_job in zip(submitted, jobs)}
    open_jobs = {str(job.job_id): job for job in submitted}
    gone_since: dict[str, float] = {}
    ids = sorted({array_id(submitted)})
    while open_jobs:
        states = _queue_states(ids)
        for job_id, job in list(open_jobs.items()):
            label = labels[job_id]
            if job.paths.result_pickle.exists():
                _collect(job, label, view)
                del open_jobs[job_id]
            elif job_id in states:
                gone_since.pop(job_id, None)
                state = states[job_id].lower()
                view.state(label, "running" if state in ("running", "completing") else "pending",
                           f"slurm {job_id}")
                line = last_progress(Path(job.paths.stdout))
                if line:
                    view.progress_text(label, line)
            elif time.monotonic() - gone_since.setdefault(job_id, time.monotonic()) > GRACE_S:
                view.failed(label, f"job {job_id} left the queue without a result (killed, out of memory or out "
                                   f"of time?); {_last_line(job)}; log: {job.paths.stderr}")
                del open_jobs[job_id]
        if open_jobs:
            time.sleep(poll_s)


def log_progress(update) -> None:
    """In a task: one line of a :class:`lidcbench.progress.Update` in its log (stdout)."""
    print(PROGRESS_LINE + update.text(), flush=True)


def last_progress(log: Path, tail_bytes: int = 4096) -> str | None:
    """The last progress line a task has written to its log, without the prefix; None before the first."""
    try:
        with open(log, "rb") as file:
            file.seek(max(0, file.seek(0, 2) - tail_bytes))
            lines = file.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    found = [line[len(PROGRESS_LINE):] for line in lines if line.startswith(PROGRESS_LINE)]
    return found[-1].strip() if found else None


def _queue_states(array_ids: list[str]) -> dict[str, str]:
    """Task id (``12_3``) -> SLURM state, for the tasks still in the queue."""
    answer = subprocess.run(["squeue", "-h", "-r", "-j", ",".join(array_ids), "-o", "%i %T"], capture_output=True,
                            text=True, timeout=60)
    states = {}
    for line in answer.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


def _collect(job, label: str, view: JobView) -> None:
    try:
        path, auc = job.result()
    except Exception:  # the job raised: submitit kept its traceback in the log
        view.failed(label, f"job {job.job_id}: {_last_line(job)}; log: {job.paths.stderr}")
    else:
        view.finished(label, auc, path)


def _last_line(job) -> str:
    """The last line of the job's error log that says what went wrong."""
    try:
        lines = [line.strip() for line in Path(job.paths.stderr).read_text(errors="replace").splitlines()]
    except OSError:
        return "no error log"
    said = [line for line in lines if line and not line.startswith(("submitit", "srun:"))]
    errors = [line for line in said if "Error" in line or "error" in line]
    return (errors or said or ["the error log is empty"])[-1]
