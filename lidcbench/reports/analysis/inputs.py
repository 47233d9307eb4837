"""The table an analysis reads: one row per nodule with its label, fold and eight attributes.

Attributes are on the original rating scale (Sub 1-5, Int 1-4, Cal 1-6, ...).
From the readers: the cohort's aggregated ratings (the protocol's mean or
median). From a method: its predicted attributes, which records hold on the
[0, 1] scale, mapped back to the original scale (``low + p * (high - low)``,
as the scorer does), averaged over the seeds of its records, with the labels
the records carry. Both analyses standardise each attribute before use, so
the scale changes no result; it only keeps the two kinds of table alike.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lidcbench.errors import AnalysisError
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES, ATTRIBUTES
from lidcbench.protocol.rules import DEFAULT, Protocol
from lidcbench.results.records import RunRecord

COLUMNS = ("nodule_id", "label", "fold", *ATTRIBUTE_NAMES)


@dataclass(frozen=True)
class Inputs:
    """``table``: :data:`COLUMNS`, one row per nodule sorted by nodule id.

    ``stem`` names the output files (``rfe-<stem>.md``); ``title`` says in
    words where the attributes come from, for page and figure titles.
    """

    stem: str
    title: str
    protocol_hash: str
    table: pd.DataFrame

    @property
    def folds(self) -> list[int]:
        return sorted(int(f) for f in self.table["fold"].unique())


def readers_stem(protocol: Protocol) -> str:
    return "readers" if protocol == DEFAULT else f"readers-{protocol.hash}"


def readers_inputs(protocol: Protocol = DEFAULT) -> Inputs:
    """The readers' aggregated ratings of every cohort nodule, with its frozen fold."""
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds

    cohort = load_cohort(protocol)
    table = cohort.table.assign(fold=load_folds().assign(cohort))
    title = f"readers' {protocol.aggregate} ratings, protocol {protocol.hash}"
    return Inputs(readers_stem(protocol), title, protocol.hash, _tidy(table[list(COLUMNS)]))


def settings_by_method(records: list[RunRecord]) -> dict[str, list[str]]:
    """Method name -> the settings (:attr:`RunRecord.setting`) its records were made under."""
    found: dict[str, set[str]] = defaultdict(set)
    for record in records:
        found[record.method].add(record.setting)
    return {method: sorted(settings) for method, settings in sorted(found.items())}


def predicts_attributes(record: RunRecord) -> bool:
    return set(ATTRIBUTE_NAMES) <= set(record.nodules["columns"])


def method_inputs(records: list[RunRecord], method: str, setting: str | None = None) -> Inputs:
    """A method's predicted attributes on its test nodules, pooled over the folds of its records.

    ``setting`` picks the records' setting when the method was run under
    several (protocol, source, profile); the files of such a method are named
    ``<method>-<setting>``, of any other ``<method>``.
    """
    settings = settings_by_method(records)
    if method not in settings:
        known = ", ".join(settings) or "none"
        raise AnalysisError(f"no result records of method {method!r} (methods with records: {known}); run it "
                            "first with `lidcbench run METHOD --folds all`, or point --results at its records.")
    if setting is None and len(settings[method]) > 1:
        raise AnalysisError(f"method {method!r} has records under {len(settings[method])} settings; pick one "
                            f"with --setting: {', '.join(settings[method])}.")
    setting = setting or settings[method][0]
    if setting not in settings[method]:
        raise AnalysisError(f"method {method!r} has no records under setting {setting!r}; its settings are "
                            f"{', '.join(settings[method])}.")
    chosen = [r for r in records if r.method == method and r.setting == setting]
    lacking = [r for r in chosen if not predicts_attributes(r)]
    if lacking:
        missing = [name for name in ATTRIBUTE_NAMES if name not in lacking[0].nodules["columns"]]
        what = "no attributes" if len(missing) == len(ATTRIBUTE_NAMES) else f"no scores for {', '.join(missing)}"
        raise AnalysisError(f"method {method!r} predicts {what} (its record of fold {lacking[0].fold}, seed "
                            f"{lacking[0].seed}); the analyses need all eight attributes. Analyse the readers' "
                            "ratings (no --method) or a method that predicts attributes.")
    frames = [r.nodule_frame().assign(fold=r.fold) for r in chosen]
    pooled = pd.concat(frames, ignore_index=True)
    folds_per_nodule = pooled.groupby("nodule_id")["fold"].nunique()
    if (folds_per_nodule > 1).any():
        raise AnalysisError(f"nodule {folds_per_nodule[folds_per_nodule > 1].index[0]} is in more than one test "
                            f"fold of method {method!r}; its records under {setting} mix folds files.")
    values = pooled[list(ATTRIBUTE_NAMES)].astype(float)
    if not np.isfinite(values.to_numpy()).all():
        raise AnalysisError(f"method {method!r} has missing or infinite attribute predictions under {setting}; "
                            "re-run it.")
    for attribute in ATTRIBUTES:
        pooled[attribute.name] = attribute.low + values[attribute.name] * (attribute.high - attribute.low)
    table = pooled.groupby("nodule_id", as_index=False).agg(
        {"label": "first", "fold": "first", **{name: "mean" for name in ATTRIBUTE_NAMES}})
    seeds = sorted({r.seed for r in chosen})
    stem = method if len(settings[method]) == 1 else f"{method}-{setting}"
    title = (f"{method}'s predicted attributes, seed{'s' if len(seeds) > 1 else ''} "
             f"{', '.join(map(str, seeds))}{' (mean)' if len(seeds) > 1 else ''}, {setting}")
    return Inputs(stem, title, chosen[0].protocol_hash, _tidy(table[list(COLUMNS)]))


def _tidy(table: pd.DataFrame) -> pd.DataFrame:
    return table.astype({"label": int, "fold": int}).sort_values("nodule_id", ignore_index=True)
