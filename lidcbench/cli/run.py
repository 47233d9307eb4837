"""`lidcbench run METHOD --folds all`: train, predict, score and record each fold."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args


def _parameter(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--set takes NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value  # a bare string


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", help="a registered method name (see `lidcbench list`)")
    parser.add_argument("--folds", default="all", help="'all' or comma-separated fold numbers (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", default="contours", help="patch source: contours (built in) or ct")
    parser.add_argument("--dicom-root", type=Path, help="LIDC-IDRI DICOM folder for --source ct")
    parser.add_argument("--allow-missing", action="store_true",
                        help="with --source ct: score the nodules whose scans are present")
    parser.add_argument("--min-coverage", type=float, metavar="FRACTION",
                        help="refuse to score when fewer of the cohort's nodules have scans, e.g. 0.95 "
                             "(default: none; a partial run says its coverage on every line)")
    parser.add_argument("--profile", help="the method's named settings (default: chosen by the device)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--set", dest="params", type=_parameter, action="append", default=[], metavar="NAME=VALUE",
                        help="override one method parameter (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results)")
    parser.add_argument("--force", action="store_true", help="redo folds whose record exists")
    add_protocol_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .. import progress
    from ..cache import load_patches
    from ..cohort import load_cohort
    from ..coverage import coverage_lines, scored_text
    from ..folds import load_folds
    from ..records import read_records
    from ..skips import read_skips
    from ..run import FoldJob, source_and_settings, fold_jobs, plan, run_folds
    from ..scoreview import print_score

    console = Console()
    protocol = protocol_from_args(args)
    source_options = {"dicom_root": args.dicom_root} if args.dicom_root else {}
    template = FoldJob(method=args.method, fold=0, seed=args.seed, profile=args.profile, params=dict(args.params),
                       source=args.source, source_options=source_options, allow_missing=args.allow_missing,
                       protocol=protocol.to_dict(), out_dir=str(args.out), device=args.device,
                       min_coverage=args.min_coverage)
    folds = load_folds().fold_ids(args.folds)
    resolved = plan(template)
    source, settings = source_and_settings(template, resolved.patch_size)
    console.print(f"[bold]{args.method}[/] profile [bold]{resolved.profile}[/] on [bold]{resolved.device}[/], "
                  f"folds {','.join(map(str, folds))}, seed {args.seed}")
    console.print(f"source [bold]{source.describe()}[/] {settings}", highlight=False)
    console.print(f"protocol {protocol.hash}: {protocol.describe()}", highlight=False)
    cohort = load_cohort(protocol)
    for line in coverage_lines(source, cohort, folds, resolved.method_class(**resolved.params), args.min_coverage,
                               args.allow_missing):  # checks --min-coverage and every fold before heavy work
        console.print(line, highlight=False)
    # Build or load the patch cache before the live display, which its own progress bar would disturb.
    load_patches(cohort, source, size=resolved.patch_size, progress=True, allow_missing=args.allow_missing)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar, progress.reporting_to(bar):
        fold_task = bar.add_task("folds", total=len(folds))

        def on_start(job, skipping):
            if skipping:
                bar.console.print(f"fold {job.fold}: record exists, skipped (--force redoes it)")
            else:
                bar.update(fold_task, description=f"fold {job.fold}")

        outcomes = []
        for job in fold_jobs(template, folds):
            outcomes += run_folds([job], force=args.force, on_start=on_start)
            bar.advance(fold_task)
    for outcome in outcomes:
        verb = "kept" if outcome.skipped else "wrote" if outcome.record else \
            f"fold {outcome.fold}: {outcome.skip_reason}, skipped; marked in"
        console.print(f"{verb} {outcome.path}", highlight=False)
    scored = [o for o in outcomes if o.record]
    if not scored:
        console.print("no fold had test nodules to score")
        return 0
    records = [r for r in read_records(args.out) if r.method == args.method and r.setting == scored[0].record.setting
               and r.seed == args.seed and r.fold in folds]
    skipped = [m for m in read_skips(args.out) if (m.method, m.setting, m.seed) == (args.method, records[0].setting,
                                                                                    args.seed) and m.fold in folds]
    scored_count, cohort_count = _covered(records, skipped)
    covered = scored_text(scored_count, cohort_count)
    partial = scored_count < cohort_count
    if partial:
        console.print(f"[yellow]partial coverage:[/] these scores cover {covered} test nodules of the folds "
                      "asked for; they are not comparable number for number with full-cohort results",
                      highlight=False)
    coverage = f", {covered} test nodules scored" if partial else ""
    print_score(_score(records), console, title=f"{args.method} ({resolved.profile}, {args.source}{coverage})")
    return 0


def _covered(records, skipped) -> tuple[int, int]:
    """(test nodules scored, the cohort's test nodules in the folds asked for, skipped ones included)."""
    from ..coverage import records_coverage

    scored, total = records_coverage(records)
    return scored, total + sum(int(m.coverage["fold_nodules"]) for m in skipped)


def _score(records):
    """The records' folds as one Score, as `lidcbench leaderboard` will summarise them."""
    import pandas as pd

    from ..score import Score, summarize

    nodules = pd.concat([r.nodule_frame().assign(fold=r.fold) for r in records], ignore_index=True)
    fold_metrics = {r.fold: r.metrics for r in sorted(records, key=lambda r: r.fold)}
    return Score(folds=fold_metrics, nodules=nodules, summary=summarize(fold_metrics, nodules))
