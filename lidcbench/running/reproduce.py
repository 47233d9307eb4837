"""Rerun a record's exact job with today's code and say whether the numbers agree.

A record holds everything its job was made from: method, parameters, fold,
seed, profile, source with its settings, protocol, folds version and evaluation variant.
:func:`job_for` turns it back into a :class:`FoldJob`; :func:`check_plan`
asks only whether today's code accepts that job (the method and its
parameters), and :func:`reproduce` runs it into a temporary folder and
compares the new predictions with the recorded ones, nodule by nodule.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lidcbench.errors import LidcbenchError, RecordError
from lidcbench.plugins.registry import Registry
from lidcbench.protocol.variants import Variant
from lidcbench.results.records import FILE_NAME, RunRecord, read_record

from .fold import FoldJob, plan, run_fold

# Parameters the runner sets itself (seed and device from the job) or adds to the record after the run
# (which pretrained weights were found): not overrides a user gave, so not replayed as such.
RUNNER_SET = ("seed", "device", "weights_loaded")
DEFAULT_TOLERANCE = 1e-6  # largest |probability difference| and |AUC difference| still called agreement


def record_paths(paths: list[str | Path]) -> list[Path]:
    """Record files named directly, or every record file under a named folder (bench records left out)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("fold*-seed*.json") if FILE_NAME.match(p.name))
        elif path.is_file():
            found.append(path)
        else:
            raise RecordError(f"{path}: no such record file or folder.")
    if not found:
        raise RecordError(f"no result records (fold*-seed*.json) under {', '.join(map(str, paths))}.")
    return found


def job_for(record: RunRecord, out_dir: str | Path, device: str | None = None,
            source_options: dict[str, Any] | None = None) -> FoldJob:
    """The fold job that made ``record``, writing into ``out_dir``. ``device``: None reuses the recorded one."""
    params = {name: value for name, value in record.method_params.items() if name not in RUNNER_SET}
    return FoldJob(method=record.method, fold=record.fold, seed=record.seed, profile=record.profile, params=params,
                   source=record.source, source_options=dict(source_options or {}), protocol=dict(record.protocol),
                   out_dir=str(out_dir), device=device or str(record.method_params.get("device", "auto")),
                   variant=Variant.from_record(record.variant).choices())


def check_plan(record: RunRecord, registry: Registry | None = None) -> str | None:
    """None if today's code accepts the record's method and parameters, else why not (one line)."""
    try:
        plan(job_for(record, tempfile.gettempdir(), device="cpu"), registry)  # cpu: no device needed to plan
    except LidcbenchError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class Comparison:
    """A recorded fold against its rerun."""

    path: Path
    max_probability_difference: float
    auc_recorded: float
    auc_rerun: float
    tolerance: float
    problem: str | None = None  # why the two cannot be compared nodule by nodule, if they cannot

    @property
    def auc_difference(self) -> float:
        return self.auc_rerun - self.auc_recorded

    @property
    def agrees(self) -> bool:
        return (self.problem is None and self.max_probability_difference <= self.tolerance
                and abs(self.auc_difference) <= self.tolerance)


def compare(path: Path, recorded: RunRecord, rerun: RunRecord, tolerance: float) -> Comparison:
    """Largest probability difference over the fold's nodules and the AUC difference."""
    auc_recorded = recorded.metrics["classification"]["auc"]
    auc_rerun = rerun.metrics["classification"]["auc"]
    key = ["nodule_id", "slice_index"] if "slice_index" in recorded.nodules["columns"] else "nodule_id"  # split-slice
    old = recorded.nodule_frame().set_index(key)["malignancy"].astype(float)
    new = rerun.nodule_frame().set_index(key)["malignancy"].astype(float)
    problem = None
    if set(old.index) != set(new.index):
        problem = (f"the rerun scored other nodules ({len(set(old.index) - set(new.index))} recorded ones missing, "
                   f"{len(set(new.index) - set(old.index))} new)")
    elif rerun.setting != recorded.setting:
        problem = f"the rerun's setting {rerun.setting} is not the record's {recorded.setting}"
    common = old.index.intersection(new.index)
    largest = float((old[common] - new[common]).abs().max()) if len(common) else float("nan")
    return Comparison(path, largest, float(auc_recorded), float(auc_rerun), tolerance, problem)


def reproduce(path: Path, *, tolerance: float = DEFAULT_TOLERANCE, device: str | None = None,
              source_options: dict[str, Any] | None = None, registry: Registry | None = None,
              run: Callable[..., tuple[RunRecord, Path]] = run_fold) -> Comparison:
    """Rerun the record at ``path`` into a temporary folder (removed after) and compare."""
    from lidcbench.protocol.folds import load_folds

    recorded = read_record(path)
    if recorded.folds_version != load_folds().version:
        raise RecordError(f"{path}: made on folds version {recorded.folds_version}, this lidcbench has "
                          f"{load_folds().version}; its job cannot be rerun here.")
    with tempfile.TemporaryDirectory(prefix="lidcbench-reproduce-") as scratch:
        rerun, _ = run(job_for(recorded, scratch, device, source_options), registry)
    return compare(path, recorded, rerun, tolerance)
