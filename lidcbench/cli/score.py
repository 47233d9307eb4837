"""`lidcbench score PREDICTIONS.csv`: score predictions made outside lidcbench."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args

EXTERNAL = "external"  # the source and default profile of predictions made outside lidcbench


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", type=Path, metavar="PREDICTIONS.csv",
                        help="nodule_id, slice_index (empty for nodule-level), malignancy, optional attributes")
    parser.add_argument("--folds", default="all", help="'all' or comma-separated fold numbers (default: all)")
    parser.add_argument("--method", help="name in records and leaderboards (default: the CSV's file name)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the run that made the predictions")
    parser.add_argument("--profile", default=EXTERNAL, help="profile name in records (default: %(default)s)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write one result record per fold to DIR")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON instead of tables")
    add_protocol_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .console import make_console

    from ..cohort import load_cohort
    from ..folds import load_folds
    from ..predictions import read_predictions_csv, validate_predictions
    from ..records import check_name, new_record, write_record
    from ..score import score_folds
    from ..scoreview import print_score

    method = check_name("method", args.method or args.predictions.stem)
    protocol = protocol_from_args(args)
    cohort, folds = load_cohort(protocol), load_folds()
    fold_ids = folds.fold_ids(args.folds)
    predictions = validate_predictions(read_predictions_csv(args.predictions), cohort, folds, required_folds=fold_ids)
    score = score_folds(predictions, cohort, folds, fold_ids)
    if args.json:
        print(json.dumps({"method": method, "protocol_hash": protocol.hash, "folds": score.folds,
                          "summary": score.summary}, indent=1))
    else:
        console = make_console()
        console.print(f"protocol {protocol.hash}: {protocol.describe()}", highlight=False)
        print_score(score, console, title=method)
    if args.out:
        digest = hashlib.sha256(args.predictions.read_bytes()).hexdigest()
        for fold in fold_ids:
            record = new_record(
                method=method, fold=fold, seed=args.seed, profile=args.profile,
                method_params={"predictions_file": args.predictions.name, "sha256": digest},
                source=EXTERNAL, source_settings={}, protocol=protocol, folds_version=folds.version,
                nodules=score.fold_nodules(fold), metrics=score.folds[fold], device="unknown (external)",
                wall_time_s=None,  # the method ran elsewhere: its time is unknown
            )
            path = write_record(record, args.out)
            if not args.json:
                print(f"wrote {path}")
    return 0
