"""External predictions (a CSV as ``lidcbench score`` reads it) placed on the pages of a results folder.

``lidcbench leaderboard --external NAME=FILE.csv`` scores the file under each page's protocol, on the folds
its nodules cover, and adds it to that page as a row of profile ``external`` beside the records, with its
ΔAUC against the page's size baseline. Nothing is written to the results folder: the row says which file
(name and SHA-256) it came from, and the records that would be made from it are made again each time.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from lidcbench.errors import PredictionsError
from lidcbench.results.records import RunRecord, check_name, new_record

PROFILE = "external"  # the profile of a row from predictions made outside lidcbench, as `lidcbench score` gives


def parse_external(text: str) -> tuple[str, Path]:
    """``NAME=FILE.csv`` as (method name, path), checked before any work."""
    name, separator, path = text.partition("=")
    if not separator or not name or not path:
        raise PredictionsError(f"--external {text!r}: give NAME=FILE.csv, e.g. --external mynet=predictions.csv.")
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"--external {text!r}: {path} is not a file.")
    return check_name("method", name), path


def external_records(name: str, path: Path, first: RunRecord) -> list[RunRecord]:
    """One record per fold that ``path`` covers, scored under ``first``'s protocol and folds and placed on its
    page (its source and settings). Every nodule of a covered fold needs a prediction."""
    from lidcbench.plugins.predictions import read_predictions_csv, validate_predictions
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds
    from lidcbench.protocol.rules import Protocol
    from lidcbench.scoring.score import score_folds

    protocol = Protocol.from_options(**first.protocol)
    cohort, folds = load_cohort(protocol), load_folds()
    if first.folds_version != folds.version:
        raise PredictionsError(f"--external {name}: the page's records use folds file v{first.folds_version}, "
                               f"this lidcbench has v{folds.version}; score the file with the lidcbench that "
                               "made the records.")
    frame = read_predictions_csv(path)
    if "nodule_id" not in frame.columns:
        validate_predictions(frame, cohort)  # raises, naming the missing column
    fold_of = dict(zip(cohort.table["nodule_id"], folds.assign(cohort)))
    covered = sorted({fold_of[i] for i in frame["nodule_id"].str.strip() if i in fold_of})
    if not covered:
        raise PredictionsError(f"--external {name}: {path} predicts no nodule of protocol {protocol.hash}'s cohort.")
    predictions = validate_predictions(frame, cohort, folds, required_folds=covered)
    score = score_folds(predictions, cohort, folds, covered)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return [new_record(method=name, fold=fold, seed=0, profile=PROFILE,
                       method_params={"predictions_file": path.name, "sha256": digest}, source=first.source,
                       source_settings=first.source_settings, protocol=protocol, folds_version=folds.version,
                       nodules=score.fold_nodules(fold), metrics=score.folds[fold], device="unknown (external)",
                       wall_time_s=None)
            for fold in covered]
