"""A run's grid: every (method, fold, seed) job, which are recorded, and the checks made before any starts.

:func:`plan_grid` resolves each method once (profile, parameters: a bad name
or parameter stops the run before any job) and finds which jobs already have
a record; :func:`prepare_data` builds the cohort and the patch cache once,
before workers start, so no two jobs build them side by side.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from lidcbench.errors import ExecutorError
from lidcbench.plugins.registry import Registry

from ..fold import FoldJob, Plan, plan, record_location

SEED_RANGE = re.compile(r"^(\d+)-(\d+)$")


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (or a mix) -> sorted distinct seeds."""
    seeds: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        matched = SEED_RANGE.match(part)
        if matched and int(matched[1]) <= int(matched[2]):
            seeds.update(range(int(matched[1]), int(matched[2]) + 1))
        elif part.isdigit():
            seeds.add(int(part))
        else:
            raise ExecutorError(f"--seeds {text!r}: {part!r} is not a seed; give whole numbers >= 0 "
                                "separated by commas, or a range like 0-4.")
    return sorted(seeds)


def parse_methods(text: str) -> list[str]:
    """``"tiny,diameter"`` -> the method names, in order, once each."""
    names = [name.strip() for name in str(text).split(",")]
    if not all(names):
        raise ExecutorError(f"method list {text!r} has an empty name; give names separated by commas.")
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class GridJob:
    job: FoldJob
    plan: Plan
    record: Path  # where its record is (or will be)

    @property
    def label(self) -> str:
        return f"{self.job.method} fold {self.job.fold} seed {self.job.seed}"


@dataclass(frozen=True)
class Grid:
    jobs: tuple[GridJob, ...]  # every (method, fold, seed), methods in the order given
    pending: tuple[GridJob, ...]  # those to run: no record yet, or all of them with force
    once: tuple[str, ...] = ()  # methods whose predictions do not depend on the seed: run with the first seed only

    @property
    def recorded(self) -> int:
        return len(self.jobs) - len(self.pending)

    def describe(self, methods: list[str], folds: list[int], seeds: list[int]) -> str:
        shape = f"{len(methods)} method(s) x {len(folds)} fold(s) x {len(seeds)} seed(s)"
        if self.once and len(seeds) > 1:
            shape += f", {', '.join(self.once)} with seed {seeds[0]} only"
        return f"{len(self.jobs)} job(s) ({shape}): {self.recorded} recorded, {len(self.pending)} to run"


def plan_grid(template: FoldJob, methods: list[str], folds: list[int], seeds: list[int], force: bool = False,
              registry: Registry | None = None) -> Grid:
    """Every (method, fold, seed) job on ``template``'s settings, methods resolved before any job starts.
    A method that declares ``depends_on_seed = False`` runs with the first seed only: one run stands for all."""
    jobs, once = [], []
    for method in methods:
        method_seeds = seeds
        if not plan(replace(template, method=method, fold=folds[0], seed=seeds[0]), registry) \
                .method_class.depends_on_seed:
            method_seeds = seeds[:1]
            once.append(method)
        for seed in method_seeds:
            resolved = plan(replace(template, method=method, fold=folds[0], seed=seed), registry)
            for fold in folds:
                job = replace(template, method=method, fold=fold, seed=seed)
                resolved_fold = replace(resolved, job=job)
                jobs.append(GridJob(job, resolved_fold, record_location(resolved_fold)))
    pending = tuple(j for j in jobs if force or not j.record.is_file())
    return Grid(tuple(jobs), pending, tuple(once))


def check_writable(out_dir: str | Path) -> None:
    """The results folder exists (or can be made) and takes a file, checked before any job runs.
    Folders made for the check are removed again, so a run refused later leaves nothing behind."""
    out_dir = Path(out_dir)
    made = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]  # deepest first
    probe = out_dir / f".write-check-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ExecutorError(f"results folder {out_dir} is not writable ({error.strerror or error}); "
                            "pass --out DIR with a folder you can write to.") from None
    finally:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()


def prepare_data(jobs: list[GridJob], progress: bool = True) -> None:
    """Build (or load) the cohort and patch cache of every distinct data setting of ``jobs``, once."""
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.rules import Protocol

    from ..fold import load_pixels, plan_source_and_settings

    seen = set()
    for grid_job in jobs:
        job = grid_job.job
        source, settings = plan_source_and_settings(grid_job.plan)
        key = (repr(sorted(job.protocol.items())), job.source, repr(sorted(settings.items())), job.allow_missing)
        if key in seen:
            continue
        seen.add(key)
        load_pixels(grid_job.plan, load_cohort(Protocol(**job.protocol)), source, progress=progress)
