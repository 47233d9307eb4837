"""`lidcbench run` as a library call: check, plan the grid, build the data once, hand the jobs to an
executor, then print what was written and the scores."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from lidcbench.errors import ExecutorError

from ..fold import FoldJob
from .grid import Grid, check_writable, plan_grid, prepare_data
from .slurm import SlurmOptions

EXECUTORS = ("local", "slurm")
SHOWN_PATHS = 10  # more records than this are summarised as a count


@dataclass(frozen=True)
class RunOptions:
    executor: str = "local"
    jobs: int | None = None  # None: 1, or one per GPU named
    gpus: list[int] = field(default_factory=list)
    force: bool = False
    wait: bool = True  # slurm: follow the jobs until they end
    slurm: SlurmOptions = SlurmOptions()


@dataclass(frozen=True)
class RunResult:
    grid: Grid
    failures: list[str]
    submitted: str | None = None  # the SLURM array id, with --no-wait


def run_grid(template: FoldJob, methods: list[str], folds: list[int], seeds: list[int], options: RunOptions,
             console: Console | None = None, argv: list[str] | None = None) -> RunResult:
    """Every (method, fold, seed) job not yet recorded, run by ``options.executor``; every check that can
    fail on the user's input is made before any job starts. ``argv``: the command's arguments, for the
    command that resumes after Ctrl-C."""
    from . import local

    console = console or Console()
    if options.executor not in EXECUTORS:
        raise ExecutorError(f"--executor {options.executor!r}: choose one of {', '.join(EXECUTORS)}.")
    workers = local.check_jobs(options.jobs if options.jobs is not None else max(1, len(options.gpus)))
    if options.executor == "slurm" and options.gpus:
        raise ExecutorError("--gpus is for --executor local; a SLURM job asks for GPUs with --slurm-gpus-per-job.")
    gpus = local.check_gpus(options.gpus)
    if template.checkpoint_every is not None and (not isinstance(template.checkpoint_every, int)
                                                  or template.checkpoint_every < 1):
        raise ExecutorError(f"--checkpoint-every {template.checkpoint_every}: give a number of epochs, 1 or more.")
    if template.checkpoint_minutes is not None and not template.checkpoint_minutes > 0:
        raise ExecutorError(f"--checkpoint-minutes {template.checkpoint_minutes}: give a number of minutes above 0.")
    check_writable(template.out_dir)
    if options.executor == "slurm":
        from .slurm import check_slurm

        check_slurm()
    grid = plan_grid(template, methods, folds, seeds, force=options.force)
    _print_plan(console, grid, methods, folds, seeds, options, workers, gpus)
    pending = list(grid.pending)
    if not pending and options.executor == "local":
        _print_all_recorded(console, grid, methods, seeds)
    if pending:
        _print_coverage(console, grid, methods, folds)  # checks --min-coverage and each fold's training set
    in_workers = options.executor == "local" and pending and (workers > 1 or gpus)
    pool = local.Workers(workers, gpus, _protocols(pending)) if in_workers else None
    try:
        if pending:
            # Cohort and patch cache once, before any job could start building them side by side.
            prepare_data(pending, progress=True)
        failures, submitted = [], None
        if pending and options.executor == "slurm":
            submitted, failures = _run_on_slurm(pending, options, console)
        elif pending:
            from .view import JobView

            try:
                with JobView(console, [j.label for j in pending]) as view:
                    if pool is None:
                        local.run_in_process(pending, view)
                    else:
                        pool.run(pending, view)
            except KeyboardInterrupt:
                _print_resume(console, grid, methods, seeds, argv)
                raise
            failures = view.failures
    finally:
        if pool is not None:
            pool.close()
    if submitted is None or options.wait:
        _print_outcome(console, grid, failures)
    return RunResult(grid, failures, None if options.wait else submitted)


def _protocols(jobs) -> list[dict]:
    import json

    return list({json.dumps(j.job.protocol, sort_keys=True): j.job.protocol for j in jobs}.values())


def _print_plan(console, grid: Grid, methods, folds, seeds, options: RunOptions, workers: int, gpus) -> None:
    from lidcbench.protocol.rules import Protocol

    from ..fold import plan_source_and_settings
    from .preflight import source_line

    for method in methods:
        first = next(j for j in grid.jobs if j.job.method == method)
        console.print(f"[bold]{method}[/] profile [bold]{first.plan.profile}[/] on [bold]{first.plan.device}[/]")
        if method in grid.once and len(seeds) > 1:
            console.print(f"{method}: deterministic: one run stands for every seed (seed {seeds[0]} runs)",
                          highlight=False)
    console.print(f"folds {','.join(map(str, folds))}, seeds {','.join(map(str, seeds))}", highlight=False)
    first = grid.jobs[0]
    source, settings = plan_source_and_settings(first.plan)
    protocol = Protocol(**first.job.protocol)
    console.print(source_line(source, settings, protocol), highlight=False)
    console.print(f"protocol {protocol.hash}: {protocol.describe()}", highlight=False)
    if first.job.variant:
        from lidcbench.protocol.variants import Variant

        variant = Variant(**first.job.variant)
        console.print(f"evaluation variant {variant.name} ({variant.hash}): its own page, never the leaderboard",
                      highlight=False)
    if options.executor == "slurm":
        where = f"a SLURM job array (logs in {options.slurm.logs})"
    elif workers == 1 and not gpus:
        where = "this process"
    else:
        from .local import threads_per_worker

        where = f"{workers} local worker(s), {threads_per_worker(workers)} thread(s) each"
        where += f", GPUs {','.join(gpus)} round robin" if gpus else ""
    console.print(f"{grid.describe(methods, folds, seeds)}; running on {where}", highlight=False)
    if options.executor == "local" and (workers > 1 or gpus):
        from .local import cpu_sharing_note, oversubscription

        warning = oversubscription(workers)
        if warning:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        note = cpu_sharing_note(workers, gpus)
        if note:
            console.print(f"note: {note}", highlight=False)
    if grid.recorded and grid.pending:
        kept = [j for j in grid.jobs if j not in grid.pending]
        if len(kept) <= SHOWN_PATHS:
            for grid_job in kept:
                console.print(f"{_name(grid_job, methods, seeds)}: record exists, skipped (--force redoes it)",
                              highlight=False)
        else:
            console.print(f"{grid.recorded} job(s): record exists, skipped (--force redoes them)", highlight=False)


def _one_series(methods, seeds) -> bool:
    return len(methods) == 1 and len(seeds) == 1


def _name(grid_job, methods, seeds) -> str:
    """"fold 0" for a run of one method and seed, the job's full label in a grid."""
    return f"fold {grid_job.job.fold}" if _one_series(methods, seeds) else grid_job.label


def _print_all_recorded(console, grid: Grid, methods, seeds) -> None:
    unit = "folds" if _one_series(methods, seeds) else "jobs"
    where = grid.jobs[0].record.parent if _one_series(methods, seeds) else Path(grid.jobs[0].job.out_dir)
    console.print(f"{len(grid.jobs)} of {len(grid.jobs)} {unit} already recorded in {where}; nothing to train; "
                  "--force to retrain, --out DIR to write elsewhere", highlight=False)


def _print_coverage(console, grid: Grid, methods, folds) -> None:
    """The source's coverage and each fold's test nodules present (a source with every nodule says
    nothing); raises before any heavy work on --min-coverage or a fold a method cannot train on."""
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.rules import Protocol
    from lidcbench.results.coverage import coverage_lines

    from ..fold import plan_source_and_settings

    for index, method in enumerate(methods):
        first = next(j for j in grid.jobs if j.job.method == method)
        source, _ = plan_source_and_settings(first.plan)
        cohort = load_cohort(Protocol(**first.job.protocol))
        for line in coverage_lines(source, cohort, folds, first.plan.method_class(**first.plan.params),
                                   first.job.min_coverage, first.job.allow_missing):
            if index == 0:  # the same source for every method: said once
                console.print(line, highlight=False)


def _print_resume(console, grid: Grid, methods, seeds, argv) -> None:
    from .preflight import checkpoint_lines, resume_hint

    done = sorted({j.job.fold for j in grid.jobs if j.record.is_file()})
    left = sorted({j.job.fold for j in grid.jobs if not j.record.is_file()})
    console.print(resume_hint(done, left, argv, _one_series(methods, seeds)), highlight=False)
    unfinished = [(_name(j, methods, seeds), j.record) for j in grid.jobs if not j.record.is_file()]
    template = grid.jobs[0].job
    for line in checkpoint_lines(unfinished, template.checkpoint_minutes, template.checkpoint_every):
        console.print(line, highlight=False)


def _run_on_slurm(pending, options: RunOptions, console) -> tuple[str, list[str]]:
    from . import slurm
    from .view import JobView

    submitted = slurm.submit(pending, options.slurm, force=options.force)
    array = slurm.array_id(submitted)
    console.print(f"submitted SLURM job array {array} ({len(submitted)} task(s)); follow it with `squeue -j {array}`, "
                  f"logs in {options.slurm.logs}/, cancel with `scancel {array}`", highlight=False)
    if not options.wait:
        console.print("rerun this command when they have finished: it submits only what is still missing and "
                      "prints the scores", highlight=False)
        return array, []
    try:
        with JobView(console, [j.label for j in pending]) as view:
            slurm.follow(submitted, pending, view)
    except KeyboardInterrupt:
        console.print(f"stopped following; the jobs keep running: `squeue -j {array}` shows them, "
                      f"`scancel {array}` cancels them", highlight=False)
        raise
    return array, view.failures


def _print_outcome(console, grid: Grid, failures: list[str]) -> None:
    from lidcbench.results.records import read_record
    from lidcbench.scoring.scoreview import print_score

    written = [j for j in grid.jobs if j.record.is_file()]
    if len(written) <= SHOWN_PATHS:
        for grid_job in written:
            console.print(f"{'wrote' if grid_job in grid.pending else 'kept'} {grid_job.record}", highlight=False)
    elif written:
        console.print(f"{len(written)} records under {Path(grid.jobs[0].job.out_dir)}/", highlight=False)
    groups: dict[tuple[str, str, int], list] = {}
    for grid_job in written:
        key = (grid_job.job.method, grid_job.plan.profile, grid_job.job.seed)
        groups.setdefault(key, []).append(read_record(grid_job.record))
    if len(groups) == 1:
        (method, profile, seed), records = next(iter(groups.items()))
        coverage = _coverage_note(console, grid, records)
        print_score(_score(records), console, title=f"{method} ({profile}, {records[0].source}{coverage})")
    elif groups:
        _print_summary(console, groups)
    if failures:
        console.print(f"[red]{len(failures)} job(s) failed[/]:", highlight=False)
        for failure in failures:
            console.print(f"- {failure}", highlight=False)


def _coverage_note(console, grid: Grid, records) -> str:
    """With part of the cohort scored (the ct source with --allow-missing): a warning line, and the
    title's note of how many test nodules were scored, skipped folds counted in the total."""
    from lidcbench.results.coverage import records_coverage, scored_text
    from lidcbench.results.skips import read_skips

    first = records[0]
    skipped = [m for m in read_skips(grid.jobs[0].job.out_dir)
               if (m.method, m.setting, m.seed) == (first.method, first.setting, first.seed)
               and m.fold in {j.job.fold for j in grid.jobs}]
    scored, total = records_coverage(records)
    total += sum(int(m.coverage["fold_nodules"]) for m in skipped)
    if scored >= total:
        return ""
    covered = scored_text(scored, total)
    console.print(f"[yellow]partial coverage:[/] these scores cover {covered} test nodules of the folds asked for; "
                  "they are not comparable number for number with full-cohort results", highlight=False)
    return f", {covered} test nodules scored"


def _print_summary(console, groups) -> None:
    """One row per (method, profile, seed): the compact view of a grid (`lidcbench leaderboard` has the rest)."""
    from rich.table import Table

    table = Table(title="benign vs malignant, per method and seed", title_justify="left")
    for header in ("method", "profile", "seed", "folds", "AUC mean ± sd", "pooled AUC [95% CI]"):
        table.add_column(header, justify="left" if header in ("method", "profile") else "right")
    for (method, profile, seed), records in groups.items():
        summary = _score(records).summary
        auc, pooled = summary["classification"]["auc"], summary["pooled"]
        mean = "-" if auc["mean"] is None else f"{auc['mean']:.3f}" + (
            "" if auc["std"] is None else f" ± {auc['std']:.3f}")
        ci = pooled["auc_ci"]
        whole = "-" if pooled["auc"] is None else f"{pooled['auc']:.3f}" + (
            "" if ci is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]")
        table.add_row(method, profile, str(seed), ",".join(str(r.fold) for r in records), mean, whole)
    console.print(table)


def _score(records):
    """The records' folds as one Score, as `lidcbench leaderboard` will summarise them."""
    import pandas as pd

    from lidcbench.scoring.score import Score, summarize

    nodules = pd.concat([r.nodule_frame().assign(fold=r.fold) for r in records], ignore_index=True)
    fold_metrics = {r.fold: r.metrics for r in sorted(records, key=lambda r: r.fold)}
    return Score(folds=fold_metrics, nodules=nodules, summary=summarize(fold_metrics, nodules))
