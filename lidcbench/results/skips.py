"""Folds with nothing to score: checked before training, recorded as skipped.

With part of LIDC-IDRI downloaded, a fold's test set can hold no nodule with a
scan. That fold is skipped with a one-line reason, and a small marker file
beside where its record would be (``fold<k>-seed<s>.skipped.json``) lets the
run's summary and the leaderboard say "fold 0: no test nodules present".
Markers are never mistaken for records (:data:`lidcbench.results.records.FILE_NAME`
does not match them), and a fold that is run later replaces its marker.

A training set the method cannot learn from (a class absent, too few nodules
or patients) is a one-line :class:`TrainingSetError` before any training.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lidcbench.cachedir import write_atomically
from lidcbench.errors import LidcbenchError, RecordError, TrainingSetError

from .records import board_key, record_path, setting_key

SUFFIX = ".skipped.json"
NO_TEST_NODULES = "no test nodules present"


@dataclass(frozen=True)
class SkippedFold:
    """One (method, fold, seed) under a setting that was not scored, and why."""

    method: str
    fold: int
    seed: int
    profile: str
    source: str
    source_settings: dict[str, Any]
    protocol_hash: str
    reason: str
    coverage: dict[str, Any]

    @property
    def setting(self) -> str:
        return setting_key(self.protocol_hash, self.source, self.source_settings, self.profile)

    @property
    def board(self) -> str:
        return board_key(self.protocol_hash, self.source, self.source_settings)

    def line(self) -> str:
        return f"fold {self.fold}: {self.reason}"


class FoldSkipped(LidcbenchError):
    """Raised by :func:`lidcbench.running.fold.run_fold` for a fold it skipped; carries the marker and its path."""

    def __init__(self, marker: SkippedFold, path: Path) -> None:
        super().__init__(f"{marker.method}: {marker.line()} (skipped)")
        self.marker, self.path = marker, path


def skip_path(out_dir: str | Path, method: str, fold: int, seed: int, *, setting: str) -> Path:
    record = record_path(out_dir, method, fold, seed, setting=setting)
    return record.with_name(record.name[:-len(".json")] + SUFFIX)


def write_skip(marker: SkippedFold, out_dir: str | Path) -> Path:
    path = skip_path(out_dir, marker.method, marker.fold, marker.seed, setting=marker.setting)
    write_atomically(path, (json.dumps(asdict(marker), indent=1, sort_keys=True) + "\n").encode())
    return path


def clear_skip(out_dir: str | Path, method: str, fold: int, seed: int, *, setting: str) -> None:
    """A fold that was scored is no longer skipped."""
    skip_path(out_dir, method, fold, seed, setting=setting).unlink(missing_ok=True)


def read_skips(out_dir: str | Path) -> list[SkippedFold]:
    """Every skip marker under ``out_dir`` whose fold has no record, sorted like records."""
    markers = []
    for path in sorted(Path(out_dir).glob(f"*/*/fold*-seed*{SUFFIX}")):
        try:
            marker = SkippedFold(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as error:
            raise RecordError(f"{path}: unreadable skipped-fold marker ({error}); delete it and re-run.") from None
        if not path.with_name(path.name[:-len(SUFFIX)] + ".json").exists():
            markers.append(marker)
    return sorted(markers, key=lambda m: (m.setting, m.method, m.seed, m.fold))


def unscorable_reason(test_present: pd.DataFrame) -> str | None:
    """Why a fold cannot be scored, or None."""
    return NO_TEST_NODULES if test_present.empty else None


def check_training_set(method, train_present: pd.DataFrame, fold: int) -> None:
    """Raise :class:`TrainingSetError` naming the fold when ``method`` cannot learn from these nodules."""
    problem = method.training_set_problem(train_present)
    if problem:
        raise TrainingSetError(
            f"fold {fold}: the training set (the other folds' nodules with pixels) {problem}; download more "
            f"scans or leave fold {fold} out with --folds."
        )


def screen_fold(method, train_present: pd.DataFrame, test_present: pd.DataFrame, fold: int) -> str | None:
    """The reason to skip ``fold`` (nothing to score), or None; raises :class:`TrainingSetError` when
    there is something to score but ``method`` cannot learn from the training set."""
    reason = unscorable_reason(test_present)
    if reason is None:
        check_training_set(method, train_present, fold)
    return reason


def screen_folds(method, cohort, folds, fold_ids: list[int],
                 present: set[str]) -> Iterator[tuple[int, int, int, str | None]]:
    """(fold, its test nodules, those with pixels, skip reason or None) for each of ``fold_ids``, in
    turn, checked before any training: a fold that cannot train raises when its turn comes."""
    for fold in fold_ids:
        train, test = folds.split(cohort, fold)
        train, test_present = train[train["nodule_id"].isin(present)], test[test["nodule_id"].isin(present)]
        yield fold, len(test), len(test_present), screen_fold(method, train, test_present, fold)
