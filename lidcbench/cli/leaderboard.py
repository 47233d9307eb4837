"""`lidcbench leaderboard`: regenerate leaderboards/*.md, ROC figures and analyses/ from the result records."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help="folder of result records (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("leaderboards"), metavar="DIR",
                        help="folder for the pages and figures (default: %(default)s)")
    parser.add_argument("--min-coverage", type=float, metavar="FRACTION",
                        help="hide rows that score less than this fraction of their folds' cohort nodules "
                             "(ct source with part of LIDC-IDRI); default: show every row, marked")
    parser.add_argument("--external", action="append", default=[], metavar="NAME=FILE.csv",
                        help="also score predictions made outside lidcbench (the CSV `lidcbench score` reads) on "
                             "each page, as a row NAME (external) beside the records, with its ΔAUC vs diameter; "
                             "repeat for several files")
    parser.add_argument("--no-analyses", dest="analyses", action="store_false",
                        help="skip the RFE and t-SNE analyses in DIR/analyses/ (about 20 s of CPU per input the first "
                             "time; after that read from the cache until their inputs change)")


def run(args: argparse.Namespace) -> int:
    import time

    from lidcbench.bench.benchrecord import read_bench_records, throughput_markdown
    from lidcbench.errors import RecordError
    from lidcbench.reports.analysis.write import regenerate_analyses
    from lidcbench.reports.external import parse_external
    from lidcbench.reports.regenerate import GENERATED_MARK, regenerate

    external = dict(parse_external(text) for text in args.external)  # a bad NAME=FILE stops before any work
    started = time.monotonic()

    def step(text: str) -> None:  # the first run computes for minutes: say what, as it goes
        print(f"[{time.monotonic() - started:5.0f} s] {text}", flush=True)

    bench_records = read_bench_records(args.results)
    try:
        written = regenerate(args.results, args.out, min_coverage=args.min_coverage, on_step=step,
                             external=external)
    except RecordError:
        if not bench_records:
            raise
        written = []
    if bench_records:  # after regenerate(), whose clean-up removes generated pages it did not write
        throughput = args.out / "throughput.md"
        args.out.mkdir(parents=True, exist_ok=True)
        throughput.write_text(throughput_markdown(bench_records, GENERATED_MARK), encoding="utf-8")
        written.append(throughput)
    for path in written:
        print(f"wrote {path}")
    for path in regenerate_analyses(args.results, args.out / "analyses", on_step=step) if args.analyses else []:
        print(f"wrote {path}")
    return 0
