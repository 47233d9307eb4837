"""Leaderboards built from result records (written by :mod:`lidcbench.reports.regenerate`), never by hand.

One Markdown page (and one ROC figure) per board: records made under the
same protocol hash and pixel source with its settings, so that methods run
on the same pixels stand side by side. A row is a method (by its record's
method name), profile and seed, so results of different profiles never share
a row; its folds are summarized by
:func:`lidcbench.scoring.score.summarize`. The same records always give the same
bytes, so a committed leaderboard can be checked by regenerating it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from lidcbench.errors import PluginError, RecordError, RegistryError
from lidcbench.plugins.codedigest import registered_code_digest
from lidcbench.plugins.registry import default_registry
from lidcbench.protocol.attributes import ATTRIBUTES
from lidcbench.results.coverage import records_coverage, scored_text
from lidcbench.results.records import RunRecord
from lidcbench.results.skips import SkippedFold
from lidcbench.running.size_baseline import SIZE_METHOD
from lidcbench.scoring.overseeds import summarize_over_seeds
from lidcbench.scoring.readers.comparison import compare_board
from lidcbench.scoring.score import YARDSTICKS, compare, summarize, summarize_attributes

DEFAULT_OUT = Path("leaderboards")
# Size alone separates this cohort well, so every method is also compared with the
# diameter-only baseline: the difference is what the method adds beyond size.
REFERENCE_METHOD = SIZE_METHOD  # "diameter"
# Row names that say what a baseline's input is where the method's name alone would not.
ROW_NAMES = {"diameter": "diameter: the readers' mean diameter (annotation-derived)"}


def row_label(method: str, profile: str) -> str:
    """The row name: the method, with its profile unless that is the plain default."""
    name = ROW_NAMES.get(method, method)
    return name if profile == "default" else f"{name} ({profile})"


@dataclass(frozen=True)
class Entry:
    """One method, profile and seed: its records (by fold), pooled nodules and summary."""

    method: str
    profile: str
    seed: int
    records: tuple[RunRecord, ...]
    nodules: pd.DataFrame
    summary: dict[str, Any]
    versus_reference: dict[str, Any] | None = None
    skipped: tuple[SkippedFold, ...] = ()  # its folds marked as not scored (no test nodule had pixels)
    code_today: str | None = None  # today's code digest of the method (None: not installed here)
    computed: bool = False  # the size baseline computed for the page (lidcbench.running.size_baseline), no record

    @property
    def label(self) -> str:
        return row_label(self.method, self.profile) + (" (computed)" if self.computed else "")

    @property
    def folds(self) -> list[int]:
        return [r.fold for r in self.records]

    @property
    def coverage(self) -> tuple[int, int]:
        """(test nodules scored, test nodules of its folds in the cohort): fewer with part of LIDC-IDRI."""
        scored, total = records_coverage(self.records)
        return scored, total + sum(int(m.coverage["fold_nodules"]) for m in self.skipped)

    @property
    def older_code(self) -> bool:
        """Some record was made by other method code than today's, or before records kept a code digest."""
        return any(r.provenance.method_code is None or r.provenance.method_code != self.code_today
                   for r in self.records)

    @property
    def predicts_attributes(self) -> bool:
        return any(self.summary["attributes"][a.name]["error"]["mean"] is not None for a in ATTRIBUTES)


@dataclass(frozen=True)
class Leaderboard:
    """All entries of one board, with the yardsticks of every fold they cover."""

    setting: str  # the board key: protocol hash, source and settings digest
    first: RunRecord  # any record: protocol and source are the same for all
    entries: tuple[Entry, ...]
    yardsticks: dict[str, dict[str, dict[str, float | None]]]
    yardstick_folds: list[int]
    readers: Any = None  # readers.comparison.ReaderComparison: one radiologist against the others
    skipped: tuple[SkippedFold, ...] = ()  # folds not scored, e.g. no test nodule had its scan
    hidden: tuple[str, ...] = ()  # rows left out below --min-coverage, with their coverage
    over_seeds: tuple = ()  # overseeds.SeedSummary of each method and profile run with several seeds
    # Rows of methods whose predictions do not depend on the seed, shown once: (row label, seed shown, other seeds)
    once: tuple[tuple[str, int, tuple[int, ...]], ...] = ()

    @property
    def partial(self) -> bool:
        """Some row scores fewer nodules than its folds hold: the page must say so above its tables."""
        return any(scored < total for scored, total in (e.coverage for e in self.entries))


def _entry(records: list[RunRecord]) -> Entry:
    first = records[0]
    for record in records[1:]:
        if (record.method_params, record.folds_version) != (first.method_params, first.folds_version):
            raise RecordError(
                f"records of method {first.method} seed {first.seed} under {first.setting} disagree on parameters "
                f"or folds version (fold {first.fold} vs fold {record.fold}); re-run the method on every fold "
                "with the same settings, or give the variant its own method name."
            )
    nodules = pd.concat([r.nodule_frame().assign(fold=r.fold) for r in records], ignore_index=True)
    summary = summarize({r.fold: r.metrics for r in records}, nodules)
    return Entry(first.method, first.profile, first.seed, tuple(records), nodules, summary,
                 code_today=registered_code_digest(first.method))


def _computed_reference(entries: list[Entry], first: RunRecord) -> Entry | None:
    """The size baseline on the folds the board's rows cover, computed now where no record holds it; None
    where the records' folds file is not the one installed (its folds cannot be rebuilt here)."""
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds
    from lidcbench.protocol.rules import Protocol
    from lidcbench.results.records import new_record
    from lidcbench.running.size_baseline import size_baseline

    folds = load_folds()
    if first.folds_version != folds.version or not entries:
        return None
    protocol = Protocol.from_options(**first.protocol)
    fold_ids = sorted({fold for entry in entries for fold in entry.folds})
    score = size_baseline(load_cohort(protocol), folds, fold_ids)
    params = default_registry().get(REFERENCE_METHOD)().get_params()
    records = [new_record(method=REFERENCE_METHOD, fold=fold, seed=0, profile="default", method_params=params,
                          source=first.source, source_settings=first.source_settings, protocol=protocol,
                          folds_version=folds.version, nodules=score.fold_nodules(fold), metrics=score.folds[fold],
                          device="cpu", wall_time_s=None, method_code=registered_code_digest(REFERENCE_METHOD),
                          selected_params={}, isolation="off")
               for fold in fold_ids]
    return replace(_entry(records), computed=True)


def _versus_reference(entry: Entry, reference: Entry) -> dict[str, Any] | None:
    """Paired AUC difference (DeLong) with the reference method on the nodules both scored."""
    shared = sorted(set(entry.nodules["nodule_id"]) & set(reference.nodules["nodule_id"]))
    if not shared:
        return None
    columns = ["nodule_id", "label", "malignancy"]
    ours = entry.nodules[columns][entry.nodules["nodule_id"].isin(shared)]
    theirs = reference.nodules[columns][reference.nodules["nodule_id"].isin(shared)]
    return {**compare(ours, theirs), "nodules": len(shared)}


def _yardsticks(records: list[RunRecord]) -> tuple[dict[str, dict[str, dict[str, float | None]]], list[int]]:
    """Yardsticks depend only on the fold's nodules, so any record of a fold carries them."""
    by_fold: dict[int, dict[str, Any]] = {}
    for record in records:
        by_fold.setdefault(record.fold, record.metrics)
    summary = summarize_attributes(by_fold)
    return {name: {key: values[key] for key in YARDSTICKS} for name, values in summary.items()}, sorted(by_fold)


def _rank(entry: Entry) -> tuple:
    """Best pooled AUC first; entries without one last; then by name and seed, so the order is stable."""
    auc = entry.summary["pooled"]["auc"]
    return (auc is None, -(auc or 0.0), entry.method, entry.profile, entry.seed)


def _seed_free(method: str) -> bool:
    """The method registered under this name declares that its predictions do not depend on the seed."""
    try:
        method_class = default_registry().get(method)
    except (RegistryError, PluginError):
        return False  # not installed here: nothing is known, so every seed stays
    return isinstance(method_class, type) and not getattr(method_class, "depends_on_seed", True)


def _one_seed_for_seed_free(groups: dict) -> tuple[dict, tuple]:
    """Keep a seed-free method's lowest seed only: its other seeds' records are the same predictions again."""
    kept, once = {}, []
    seeds: dict[tuple[str, str], list[int]] = defaultdict(list)
    for method, profile, seed in sorted(groups):
        seeds[(method, profile)].append(seed)
    for key in sorted(groups):
        method, profile, seed = key
        if _seed_free(method):
            if seed != seeds[(method, profile)][0]:
                continue
            once.append((row_label(method, profile), seed, tuple(seeds[(method, profile)][1:])))
        kept[key] = groups[key]
    return kept, tuple(once)


def build_leaderboards(records: list[RunRecord], skipped: list[SkippedFold] = (),
                       min_coverage: float | None = None, compute_size_baseline: bool = True) -> list[Leaderboard]:
    """Group records by board, then by (method, profile, seed), ranked by pooled AUC; compare each
    entry with the reference method. ``skipped``: folds marked as not scored, listed on their board;
    ``min_coverage``: hide rows that score a smaller fraction of their folds' nodules;
    ``compute_size_baseline``: a board without reference records gets the size baseline computed for
    its folds (a row marked computed), so that no page loses its comparison with size."""
    variants = sorted({r.variant["name"] for r in records if r.variant is not None})
    if variants:  # the leaderboard is the protocol's; variants are measured on their own page
        raise RecordError(f"records of evaluation variant(s) {', '.join(variants)} cannot go on a leaderboard; "
                          "they belong on the evaluation-choices page (lidcbench.reports.choices).")
    by_setting: dict[str, dict[tuple[str, str, int], list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in sorted(records, key=lambda r: (r.board, r.method, r.profile, r.seed, r.fold)):
        by_setting[record.board][(record.method, record.profile, record.seed)].append(record)
    boards = []
    for setting in sorted(by_setting):
        groups, once = _one_seed_for_seed_free(by_setting[setting])
        board_skips = tuple(m for m in skipped if m.board == setting)
        entries = sorted((replace(_entry(groups[key]), skipped=tuple(
            m for m in board_skips if (m.method, m.profile, m.seed) == key)) for key in sorted(groups)), key=_rank)
        hidden = tuple(f"{e.label} seed {e.seed}: {scored_text(*e.coverage)}" for e in entries
                       if min_coverage is not None and e.coverage[0] < min_coverage * e.coverage[1])
        entries = [e for e in entries if min_coverage is None or e.coverage[0] >= min_coverage * e.coverage[1]]
        references = [e for e in entries if e.method == REFERENCE_METHOD]
        if not references and compute_size_baseline:
            computed = _computed_reference(entries, by_setting[setting][sorted(by_setting[setting])[0]][0])
            entries = sorted([*entries, computed], key=_rank) if computed else entries
            references = [computed] if computed else []
        compared = []
        for entry in entries:
            reference = next((r for r in references if r.seed == entry.seed), references[0] if references else None)
            if reference is not None and entry.method != REFERENCE_METHOD:
                entry = replace(entry, versus_reference=_versus_reference(entry, reference))
            compared.append(entry)
        all_records = [r for records_ in groups.values() for r in records_]
        yardsticks, folds = _yardsticks(all_records)
        readers = compare_board(compared, all_records[0])
        over_seeds = summarize_over_seeds(compared)
        boards.append(Leaderboard(setting, all_records[0], tuple(compared), yardsticks, folds, readers,
                                  skipped=board_skips, hidden=hidden, over_seeds=over_seeds, once=once))
    return boards
