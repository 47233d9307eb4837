"""`lidcbench reproduce RECORD...`: rerun each record's job with today's code and compare the numbers."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lidcbench.running.reproduce import DEFAULT_TOLERANCE

    parser.add_argument("records", nargs="+", type=Path, metavar="RECORD",
                        help="result record files, or folders searched for them (e.g. results/)")
    parser.add_argument("--plan-only", action="store_true",
                        help="only check that today's code accepts each record's method and parameters")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, metavar="T",
                        help="largest |probability difference| and |AUC difference| called agreement "
                             "(default %(default)g)")
    parser.add_argument("--device", help="rerun on this device (default: the one the record names, else auto)")
    parser.add_argument("--dicom-root", type=Path, help="LIDC-IDRI DICOM folder, for records of the ct source")


def run(args: argparse.Namespace) -> int:
    from lidcbench.results.records import read_record
    from lidcbench.running.reproduce import check_plan, record_paths, reproduce

    if args.tolerance < 0:
        from lidcbench.errors import LidcbenchError

        raise LidcbenchError(f"--tolerance must be at least 0, got {args.tolerance}.")
    paths = record_paths(args.records)
    records = {path: read_record(path) for path in paths}  # every record readable before any work
    refused = {path: reason for path, record in records.items() if (reason := check_plan(record))}
    for path, reason in refused.items():
        print(f"{path}: today's code refuses this job: {reason}")
    if args.plan_only:
        print(f"plan: {len(paths) - len(refused)} of {len(paths)} record(s) accepted by today's code")
        return 1 if refused else 0
    source_options = {"dicom_root": args.dicom_root} if args.dicom_root else {}
    print(f"agreement: largest |probability difference| and |AUC difference| at most {args.tolerance:g}")
    disagreeing = 0
    for path in paths:
        if path in refused:
            continue
        result = reproduce(path, tolerance=args.tolerance, device=args.device, source_options=source_options)
        verdict = "agrees" if result.agrees else "DIFFERS"
        disagreeing += not result.agrees
        note = f" ({result.problem})" if result.problem else ""
        print(f"{path}: largest |probability difference| {result.max_probability_difference:.3g}, "
              f"AUC {result.auc_recorded:.6f} -> {result.auc_rerun:.6f} (difference {result.auc_difference:+.3g}): "
              f"{verdict}{note}")
    print(f"reproduce: {len(paths) - len(refused) - disagreeing} of {len(paths)} record(s) agree")
    return 1 if refused or disagreeing else 0
