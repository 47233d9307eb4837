"""`lidcbench score PREDICTIONS.csv`: score predictions made outside lidcbench."""
from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict
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
    parser.add_argument("--gallery", type=Path, metavar="FILE.png",
                        help="also draw the most confident false positives and negatives from --gallery-source")
    parser.add_argument("--gallery-source", default="contours", help="patch source of the gallery: contours "
                        "(built in, default) or ct (with --dicom-root)")
    parser.add_argument("--dicom-root", type=Path, help="LIDC-IDRI DICOM folder for --gallery-source ct")
    parser.add_argument("--patch-size", type=int, default=64, metavar="PX", help="gallery patch size (default 64)")
    add_protocol_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lidcbench.plugins.predictions import read_predictions_csv, validate_predictions
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds
    from lidcbench.results.records import check_name, new_record, write_record
    from lidcbench.scoring.readers.calibration import calibration
    from lidcbench.scoring.readers.comparison import compare_with_readers
    from lidcbench.scoring.readers.terminal import print_readers
    from lidcbench.scoring.score import score_folds
    from lidcbench.scoring.scoreview import print_score

    from .console import make_console

    method = check_name("method", args.method or args.predictions.stem)
    gallery_source = _gallery_source(args) if args.gallery else None  # a bad option fails before any work
    protocol = protocol_from_args(args)
    cohort, folds = load_cohort(protocol), load_folds()
    fold_ids = folds.fold_ids(args.folds)
    predictions = validate_predictions(read_predictions_csv(args.predictions), cohort, folds, required_folds=fold_ids)
    score = score_folds(predictions, cohort, folds, fold_ids)
    readers = compare_with_readers(cohort.table, [score.nodules], protocol.aggregate)
    calibrated = calibration(score.nodules["label"], score.nodules["malignancy"])
    versus = _versus_size(score, cohort, folds, fold_ids)
    if args.json:
        print(json.dumps({"method": method, "protocol_hash": protocol.hash, "folds": score.folds,
                          "summary": score.summary, "versus_diameter": versus, "readers": asdict(readers),
                          "calibration": calibrated}, indent=1))
    else:
        console = make_console()
        console.print(f"protocol {protocol.hash}: {protocol.describe()}", highlight=False)
        print_score(score, console, title=method)
        console.print(_versus_line(versus), highlight=False)
        print_readers(readers, calibrated, console, title=method)
    if gallery_source is not None:
        from lidcbench.patches.cache import load_patches
        from lidcbench.reports.gallery import gallery_from_patches

        patches = load_patches(cohort, gallery_source, size=args.patch_size, progress=not args.json,
                               allow_missing=True)
        gallery_from_patches(f"{method}: most confident mistakes ({gallery_source.name} patches, central slice)",
                             score.nodules, patches, cohort.table, args.gallery)
        if not args.json:
            print(f"wrote {args.gallery}")
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


def _versus_size(score, cohort, folds, fold_ids) -> dict:
    """ΔAUC against the size baseline (DeLong, paired on the same nodules), the baseline computed for
    these folds (lidcbench.running.size_baseline): the comparison every leaderboard row gets."""
    from lidcbench.errors import PredictionsError
    from lidcbench.running.size_baseline import COMPUTED_NOTE, SIZE_METHOD, size_baseline
    from lidcbench.scoring.score import compare

    baseline = size_baseline(cohort, folds, fold_ids)
    columns = ["nodule_id", "label", "malignancy"]
    said = {"method": SIZE_METHOD, "baseline": COMPUTED_NOTE.replace("this page", "these folds"),
            "baseline_auc": baseline.summary["pooled"]["auc"]}
    try:
        return {**said, **compare(score.nodules[columns], baseline.nodules[columns])}
    except PredictionsError as error:  # e.g. folds with one class only: no AUC to compare
        return {**said, "difference": None, "p_value": None, "not_compared": str(error)}


def _versus_line(versus: dict) -> str:
    if versus["difference"] is None:
        return f"ΔAUC vs {versus['method']}: not computed ({versus.get('not_compared') or 'no AUC'})"
    interval = " [{:+.3f}, {:+.3f}]".format(*versus["ci"]) if versus.get("ci") else ""
    p = "not estimable (zero variance)" if versus.get("p_value") is None else f"{versus['p_value']:.2g}"
    return (f"ΔAUC vs {versus['method']}: {versus['difference']:+.3f}{interval}, DeLong p = {p} "
            f"({versus['method']} AUC {versus['baseline_auc']:.3f} on the same nodules; {versus['baseline']})")


def _gallery_source(args: argparse.Namespace):
    """The gallery's source, checked before any work: a PNG path in an existing folder, a known source."""
    from lidcbench.errors import PatchesError
    from lidcbench.patches.cache import MIN_SIZE
    from lidcbench.patches.sources import make_source

    if args.gallery.suffix.lower() != ".png":
        raise PatchesError(f"--gallery {args.gallery} must name a .png file.")
    if not args.gallery.parent.is_dir():
        raise PatchesError(f"--gallery {args.gallery}: the folder {args.gallery.parent} does not exist.")
    if args.patch_size < MIN_SIZE:
        raise PatchesError(f"--patch-size must be at least {MIN_SIZE} pixels, not {args.patch_size}.")
    options = {"dicom_root": args.dicom_root} if args.dicom_root else {}
    return make_source(args.gallery_source, **options)
