"""One radiologist against the others, and every method on the very same targets.

The readers' row scores each reader's own malignancy rating (1-5) against the
label the other readers of the nodule give (:mod:`.pairs`): the AUC of the
ratings and two operating points, rating >= 4 and rating >= 3 as malignant.
Each method is scored on the same pairs with its nodule probability, so a
method and a reader meet identical targets; their AUC difference is paired
and its interval resamples nodules. Attribute errors are scored the same way:
the method's predicted rating and the reader's own rating against the mean of
the other readers, one weight per (nodule, reader) pair.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lidcbench.protocol.attributes import ATTRIBUTES

from ..metrics import THRESHOLD
from .bootstrap import auc_by_nodule, paired_difference, rates_by_nodule
from .pairs import labelled, reader_pairs

OPERATING_POINTS = (4, 3)  # a reader's rating at or above this counts as malignant


@dataclass(frozen=True)
class ReaderComparison:
    """``readers``: the readers' row on all pairs; ``methods``: per entry (in the order given) its AUC and
    Sen/Spe/Acc at 0.5 on its pairs and the paired difference from the readers; ``attributes``: per entry
    and per attribute the error and the readers' error on the same pairs, mean ± std over folds.
    ``unavailable`` says why there is nothing (empty when there is)."""

    pairs: int = 0
    nodules: int = 0
    left_out: int = 0  # pairs whose other readers average exactly 3
    readers: dict[str, Any] = field(default_factory=dict)
    methods: tuple[dict[str, Any], ...] = ()
    attributes: tuple[dict[str, Any] | None, ...] = ()
    unavailable: str = ""
    # Size against size: each reader's own greatest diameter as the score on the same pairs (AUC and interval);
    # empty where the table has no per-reader diameters.
    reader_diameter: dict[str, Any] = field(default_factory=dict)
    single_reader: int = 0  # test nodules left out for having one reader (no others to label them)


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "std": None}
    array = np.asarray(values, dtype=float)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else None}


def _readers_row(pairs: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray | None]:
    groups, labels, ratings = pairs["nodule_id"], pairs["label"], pairs["rating"]
    auc, resampled = auc_by_nodule(labels, ratings, groups)
    row = {"n": len(pairs), "nodules": int(groups.nunique()), "malignant": int(labels.sum()), **auc}
    for point in OPERATING_POINTS:
        row[f"at_{point}"] = rates_by_nodule(labels, ratings >= point, groups)
    return row, resampled


def _method_row(pairs: pd.DataFrame, nodules: pd.DataFrame, readers: tuple[dict[str, Any], np.ndarray | None]
                ) -> dict[str, Any]:
    """The method on the pairs of the nodules it scored; the readers again on those pairs, unless they are all."""
    scored = pairs[pairs["nodule_id"].isin(nodules["nodule_id"])]
    if len(scored) < len(pairs):
        readers = _readers_row(scored)
    probability = scored["nodule_id"].map(nodules.set_index("nodule_id")["malignancy"])
    groups, labels = scored["nodule_id"], scored["label"]
    auc, resampled = auc_by_nodule(labels, probability, groups)
    (reader_row, reader_resampled) = readers
    versus = None if resampled is None else paired_difference(auc["auc"], reader_row["auc"], resampled,
                                                                reader_resampled)
    return {"n": len(scored), "nodules": int(groups.nunique()), "malignant": int(labels.sum()), **auc,
            "at_threshold": rates_by_nodule(labels, probability >= THRESHOLD, groups),
            "versus_readers": versus}


def attribute_errors_on_pairs(pairs: pd.DataFrame, nodules: pd.DataFrame) -> dict[str, dict[str, float]] | None:
    """Per attribute: the method's mean |predicted - others' mean| and the readers' mean |own - others' mean|
    over the pairs of ``nodules`` (predicted attributes on [0, 1], as records hold them); None if it predicts none."""
    predicted = [a for a in ATTRIBUTES if a.name in nodules.columns]
    if not predicted:
        return None
    scored = pairs[pairs["nodule_id"].isin(nodules["nodule_id"])]
    by_nodule = nodules.set_index("nodule_id")
    result = {}
    for attribute in predicted:
        name = attribute.name
        scaled = scored["nodule_id"].map(by_nodule[name]).astype(float)
        rating = attribute.low + scaled * (attribute.high - attribute.low)
        result[name] = {"error": float((rating - scored[f"others_{name}"]).abs().mean()),
                        "readers": float((scored[f"reader_{name}"] - scored[f"others_{name}"]).abs().mean())}
    return result


def _attributes_by_fold(pairs: pd.DataFrame, nodules: pd.DataFrame) -> dict[str, Any] | None:
    per_fold = [attribute_errors_on_pairs(pairs, fold_nodules) for _, fold_nodules in nodules.groupby("fold")]
    if per_fold[0] is None:
        return None
    return {name: {key: _spread([fold[name][key] for fold in per_fold]) for key in ("error", "readers")}
            for name in per_fold[0]}


def compare_with_readers(table: pd.DataFrame, entries: Sequence[pd.DataFrame], aggregate: str = "mean",
                         what: str = "the cohort") -> ReaderComparison:
    """The readers' row on the test nodules of ``entries`` (each: one method's per-nodule predictions with
    nodule_id, malignancy, fold and any attributes) and every entry scored on the same pairs.

    ``table``: cohort rows with the readers' individual ratings; ``what`` names it in the reason given
    when the entries' nodules are not all in it.
    """
    tested = sorted(set().union(*(set(e["nodule_id"]) for e in entries))) if entries else []
    unknown = sorted(set(tested) - set(table["nodule_id"]))
    if unknown:
        return ReaderComparison(unavailable=f"{len(unknown)} of the {len(tested)} nodules scored here are not in "
                                            f"{what} (e.g. {', '.join(unknown[:3])}), so their readers are unknown")
    every_pair = reader_pairs(table[table["nodule_id"].isin(tested)], aggregate)
    pairs = labelled(every_pair)
    if pairs["label"].nunique() < 2:
        return ReaderComparison(unavailable="the leave-one-reader-out labels hold one class only")
    readers = _readers_row(pairs)
    diameter = {}
    if pairs["reader_diameter_mm"].notna().all():
        diameter = {"n": len(pairs), **auc_by_nodule(pairs["label"], pairs["reader_diameter_mm"],
                                                     pairs["nodule_id"])[0]}
    single = len(tested) - table[table["nodule_id"].isin(tested)]["readers_malignancy"].map(len).ge(2).sum()
    return ReaderComparison(
        pairs=len(pairs), nodules=int(pairs["nodule_id"].nunique()), left_out=len(every_pair) - len(pairs),
        readers=readers[0],
        methods=tuple(_method_row(pairs, nodules, readers) for nodules in entries),
        attributes=tuple(_attributes_by_fold(every_pair, nodules) for nodules in entries),
        reader_diameter=diameter, single_reader=int(single),
    )


def compare_board(entries, first_record) -> ReaderComparison:
    """:func:`compare_with_readers` for a leaderboard's ``entries`` (pooled predictions in ``nodules``), on
    the cohort of ``first_record``'s protocol."""
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.rules import Protocol

    protocol = Protocol.from_options(**first_record.protocol)
    cohort = load_cohort(protocol)
    return compare_with_readers(cohort.table, [e.nodules for e in entries], protocol.aggregate,
                                what=f"the cohort of protocol {protocol.hash}")
