"""`lidcbench check-split FILE`: patient overlap, nodule overlap and near-duplicate slices across a split's folds."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path,
                        help="CSV with a 'fold' column and one of nodule_id, annotation_id (pylidc's) or patient_id; "
                             "optionally slice_index; or one of lidcbench's fold files (folds-*.json)")


def run(args: argparse.Namespace) -> int:
    from lidcbench.protocol.database import load_annotations
    from lidcbench.protocol.grouping import load_grouping
    from lidcbench.protocol.splitcheck import check_split, read_split

    read_split(args.file)  # a malformed file is a one-line error before the database loads
    annotations = load_annotations()
    report = check_split(args.file, annotations, load_grouping(annotations))
    print("\n".join(report.lines()))
    return 1 if report.leaky else 0
