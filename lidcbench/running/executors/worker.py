"""What runs inside a local worker process. Standard library only at import time: the thread
limits must be in the environment before torch, NumPy or SciPy load their thread pools."""
from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")

_events = None  # the parent's queue of (kind, label, ...) events
_where = ""  # "cpu, 1 thread(s)" or "GPU 2, 4 thread(s)"


def limit_threads(threads: int) -> int:
    """Every thread pool this process will start uses ``threads`` threads (call before importing torch);
    returns torch's thread count."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)
    return torch.get_num_threads()


def initialise(counter, gpus: list[str], threads: int, events, protocols: list[dict] = (),
               one_line_warnings: bool = False) -> None:
    """Worker start: take the next slot, its GPU (round robin) and its share of the cores; then load
    what every job needs (imports, the cohort of each protocol) while the runner prepares the data.
    ``one_line_warnings``: the runner shows warnings as one line (lidcbench.running.warning_line)."""
    global _events, _where
    if one_line_warnings:
        from ..warning_line import install

        install()
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    threads = limit_threads(threads)
    _events = events
    # Read back from the process's own state, so the view shows what the job really gets.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    _where = f"{'GPU ' + visible if gpus else 'cpu'}, {threads} thread(s)"
    try:
        from lidcbench.protocol.cohort import load_cohort  # cached per process
        from lidcbench.protocol.rules import Protocol

        from ..fold import run_fold  # noqa: F401  (its imports)

        for protocol in protocols:
            load_cohort(Protocol(**protocol))
    except Exception:  # pylint: disable=broad-except
        pass  # the job meets the same error and reports it


def run(job, label: str) -> tuple[str, float | None]:
    """Run one fold job, forwarding its progress; returns (record path, AUC)."""
    from lidcbench import progress

    from ..fold import run_fold

    _events.put(("started", label, _where))
    with progress.reporting_to(lambda update: _events.put(("progress", label, update))):
        record, path = run_fold(job, show_progress=False)
    return str(path), record_auc(record)


def record_auc(record) -> float | None:
    return record.metrics["classification"].get("auc")


def limits(_=None) -> dict[str, object]:
    """What this worker runs with, read back from torch and the environment (for tests)."""
    import torch

    return {"threads": torch.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
