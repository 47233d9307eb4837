"""How much of the cohort a run scores: the ct source with part of LIDC-IDRI downloaded.

With ``--allow-missing`` the ``ct`` source leaves out the nodules whose scans
are not on disk. Every place a result is shown says how many were scored: the
run's start line and per-fold lines, the record (``RunRecord.coverage``), and
the leaderboard row ("scored / cohort"). Partial results are not comparable
with full ones number for number, so they are never shown without that count.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from lidcbench.errors import CoverageError


@dataclass(frozen=True)
class Coverage:
    """The cohort's nodules and scans, and how many of them have pixels."""

    cohort_nodules: int
    present_nodules: int
    cohort_scans: int
    present_scans: int

    @property
    def fraction(self) -> float:
        return self.present_nodules / self.cohort_nodules if self.cohort_nodules else 1.0

    @property
    def partial(self) -> bool:
        return self.present_nodules < self.cohort_nodules

    def line(self, source: str, where: str) -> str:
        """The run's start line, e.g. "ct source: 51 of 1917 cohort nodules have their scans under DIR ..."."""
        left_out = self.cohort_nodules - self.present_nodules
        return (f"{source} source: {self.present_nodules} of {self.cohort_nodules} cohort nodules have their scans "
                f"{where} ({self.present_scans} of {self.cohort_scans} scans); {left_out} left out"
                + (f" ({self.fraction:.1%} coverage)" if self.partial else ""))


def cohort_coverage(table: pd.DataFrame, missing_ids: Iterable[str]) -> Coverage:
    """Coverage of the cohort ``table`` when the nodules ``missing_ids`` have no pixels."""
    missing = table["nodule_id"].isin(set(missing_ids))
    return Coverage(cohort_nodules=len(table), present_nodules=int((~missing).sum()),
                    cohort_scans=int(table["series_uid"].nunique()),
                    present_scans=int(table.loc[~missing, "series_uid"].nunique()))


def check_min_coverage(coverage: Coverage, min_coverage: float | None) -> None:
    """Refuse to score partial data below ``min_coverage`` (a fraction in [0, 1]; None: no minimum)."""
    if min_coverage is None:
        return
    if not 0.0 <= min_coverage <= 1.0:
        raise CoverageError(f"--min-coverage takes a fraction between 0 and 1, got {min_coverage!r}.")
    if coverage.fraction < min_coverage:
        raise CoverageError(
            f"only {coverage.present_nodules} of {coverage.cohort_nodules} cohort nodules ({coverage.fraction:.1%}) "
            f"have their scans, below --min-coverage {min_coverage:g}; download the missing scans or lower it."
        )


def fold_record(coverage: Coverage, fold_nodules: int, fold_scored: int) -> dict[str, Any]:
    """What a record keeps: the cohort's coverage and its own test fold's (nodules in the fold, scored)."""
    return {**asdict(coverage), "fold_nodules": int(fold_nodules), "fold_scored": int(fold_scored)}


def fold_line(fold: int, fold_nodules: int, fold_scored: int) -> str:
    return f"fold {fold}: {fold_scored} of {fold_nodules} test nodules present"


def scored_and_total(record) -> tuple[int, int]:
    """(test nodules scored, test nodules of the fold in the cohort) of a :class:`~lidcbench.results.records.RunRecord`.

    Records written before coverage was recorded list the left-out nodules in
    their metrics (``left_out_missing_scans``) when scans were missing."""
    scored = len(record.nodules["rows"])
    if record.coverage:
        return int(record.coverage["fold_scored"]), int(record.coverage["fold_nodules"])
    return scored, scored + len(record.metrics.get("left_out_missing_scans", []))


def records_coverage(records: Iterable) -> tuple[int, int]:
    """(scored, in the cohort) summed over the test folds of ``records``."""
    pairs = [scored_and_total(r) for r in records]
    return sum(s for s, _ in pairs), sum(t for _, t in pairs)


def scored_text(scored: int, total: int) -> str:
    """A leaderboard cell: "51 / 1917 (2.7%)", or "1917 / 1917" when complete."""
    return f"{scored} / {total}" + (f" ({scored / total:.1%})" if total and scored < total else "")


def coverage_lines(source, cohort, fold_ids: list[int], method, min_coverage: float | None,
                   allow_missing: bool) -> Iterator[str]:
    """A run's coverage line and per-fold lines, each as soon as it is known, checked before any heavy
    work: raises on --min-coverage and on a fold whose training set ``method`` cannot learn from."""
    from lidcbench.protocol.folds import load_folds

    from .skips import screen_folds

    missing = source.missing(cohort.table)
    where = getattr(source, "dicom_root", None)
    if missing.empty and where is None:
        return  # a source that always has every nodule (contours)
    coverage = cohort_coverage(cohort.table, missing["nodule_id"])
    yield coverage.line(source.name, f"under {where}" if where else f"in {source.describe()}")
    check_min_coverage(coverage, min_coverage)
    if not allow_missing:
        return  # load_patches names the missing scans
    present = set(cohort.table["nodule_id"]) - set(missing["nodule_id"])
    for fold, total, scored, reason in screen_folds(method, cohort, load_folds(), fold_ids, present):
        yield fold_line(fold, total, scored) + (f"; skipped: {reason}" if reason else "")
    if coverage.partial and min_coverage is None:
        yield (f"[yellow]warning:[/] scoring {coverage.fraction:.1%} of the cohort; every table and record "
               "below says so (--min-coverage FRACTION refuses partial data)")
