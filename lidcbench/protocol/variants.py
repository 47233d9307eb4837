"""Evaluation variants: the choices papers make that the protocol does not, each named and hashed.

The protocol (patient-grouped folds, the mean-rating label rule, a fixed
schedule) is the leaderboard. A variant changes one choice, so that what the
choice does to the numbers can be measured on the same methods and nodules:

- split units (``--split``): ``patient`` (the protocol's folds, the default),
  ``scan`` (folds grouped by CT scan: a patient's second scan may sit in
  another fold) and ``nodule`` (nodules stratified at random: a patient's
  nodules on both sides) and ``slice`` (each nodule's slices at random over
  the folds, :mod:`.slicefolds`; scored per slice and per nodule) and
  ``annotation`` (each reader's annotation a sample with its own rating as
  label, :mod:`.annotationcohort`, stratified at random: one nodule's outlines
  on both sides; scored per annotation and per nodule). Each has its
  own frozen folds file in ``data/``, made once by
  ``python -m lidcbench.protocol.freeze --variants``.
- label rules (``--labels``): ``mean`` (the default), ``median``, ``readers-2``
  and ``readers-3`` (nodules marked by at least 2 or 3 readers),
  ``any-reader-4`` (malignant when any reader rates 4 or 5) and
  ``nodulemnist3d`` (MedMNIST's NoduleMNIST3D rule: levels 1-2 benign, 4-5
  malignant, 3 left out; MedMNIST does not say how readers combine into one
  level, so here a nodule's level is its readers' median and a median between
  two levels is left out). Label variants keep the patient-grouped folds.
- model selection (``--selection``): ``fixed`` (the method's schedule, the
  default) and ``best-epoch-on-test`` (for methods that train by epochs: the
  method predicts the test fold after every epoch, without labels, and the
  runner keeps the epoch whose test AUC is highest, as some published code
  does). The patient folds, any protocol.

One variant at a time: a split variant uses the default label rule, a label
variant the patient folds. A variant's hash names its split file's bytes and
its protocol, so records of a variant never mix with the leaderboard's.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lidcbench.errors import ProtocolError

from .annotationcohort import load_annotation_cohort
from .cohort import Cohort, load_cohort
from .folds import FOLDS_SEED, FOLDS_VERSION, N_FOLDS, Folds, folds_path, load_folds
from .rules import DEFAULT, Protocol
from .slicefolds import SliceFolds, load_slice_folds

SPLITS = ("patient", "scan", "nodule", "slice", "annotation")
SELECTIONS = ("fixed", "best-epoch-on-test")
# Label rule name -> the protocol options that make it.
LABELS: dict[str, dict[str, Any]] = {
    "mean": {},
    "median": {"aggregate": "median"},
    "readers-2": {"min_readers": 2},
    "readers-3": {"min_readers": 3},
    "any-reader-4": {"label": "any-reader-4"},
    "nodulemnist3d": {"aggregate": "median", "label": "whole-level"},
}
# Where each rule comes from, for the page that shows them.
LABEL_SOURCES = {
    "nodulemnist3d": "MedMNIST v2 (Yang et al., Scientific Data 2023), NoduleMNIST3D's description in "
                     "medmnist/info.py: 'malignancy level 1/2 into negative class and 4/5 into positive class, "
                     "ignoring the cases with malignancy level 3'",
}


def split_path(split: str) -> Path:
    if split == "patient":
        return folds_path()
    suffix = "csv" if split == "slice" else "json"  # the slice folds: the CSV that check-split reads
    return Path(str(resources.files("lidcbench.protocol") / "data" / f"folds-{split}-v{FOLDS_VERSION}.{suffix}"))


@dataclass(frozen=True)
class Variant:
    """One evaluation variant; the default (patient, mean) is the protocol itself."""

    split: str = "patient"
    labels: str = "mean"
    selection: str = "fixed"

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ProtocolError(f"split unit {self.split!r} is not one of {', '.join(SPLITS)}.")
        if self.labels not in LABELS:
            raise ProtocolError(f"label rule {self.labels!r} is not one of {', '.join(LABELS)}.")
        if self.selection not in SELECTIONS:
            raise ProtocolError(f"model selection {self.selection!r} is not one of {', '.join(SELECTIONS)}.")
        changed = self.choices()
        if len(changed) > 1:
            raise ProtocolError("one variant at a time (got " + " ".join(f"--{k} {v}" for k, v in changed.items())
                                + ").")

    def choices(self) -> dict[str, str]:
        """The fields that differ from the protocol's ({} for the protocol): a fold job's ``variant``."""
        return {name: value for name, value, default in (("split", self.split, "patient"),
                                                         ("labels", self.labels, "mean"),
                                                         ("selection", self.selection, "fixed"))
                if value != default}

    @property
    def is_default(self) -> bool:
        return self == Variant()

    @property
    def selects_on_test(self) -> bool:
        """Whether the runner scores every epoch on the test fold and keeps the best."""
        return self.selection == "best-epoch-on-test"

    @property
    def name(self) -> str:
        """``split-nodule``, ``labels-median``, ``selection-best-epoch-on-test``; ``protocol`` for the default."""
        if self.split != "patient":
            return f"split-{self.split}"
        if self.selection != "fixed":
            return f"selection-{self.selection}"
        return f"labels-{self.labels}" if self.labels != "mean" else "protocol"

    @property
    def unit(self) -> str:
        """What the folds keep together."""
        return {"patient": "patient", "scan": "scan", "nodule": "nodule", "slice": "slice",
                "annotation": "annotation"}[self.split]

    def protocol(self, base: Protocol = DEFAULT) -> Protocol:
        """The protocol of this variant: ``base`` (a label variant needs the default one) with its label rule."""
        if self.labels != "mean" and base != DEFAULT:
            raise ProtocolError(f"--labels {self.labels} sets the cohort rules itself; leave out the protocol "
                                "options (--aggregate, --min-readers, ...).")
        return base.with_changes(**LABELS[self.labels])

    def check_protocol(self, protocol: Protocol) -> None:
        """A split file holds the default cohort's nodules; a label variant's cohort is its own rules."""
        if self.split != "patient" and protocol != DEFAULT:
            raise ProtocolError(f"--split {self.split} splits the default cohort; leave out the protocol options.")
        if self.labels != "mean" and protocol != self.protocol():
            raise ProtocolError(f"protocol {protocol.hash} is not the cohort of --labels {self.labels}; "
                                "leave out the protocol options.")

    def cohort(self, protocol: Protocol) -> Cohort:
        """The samples the folds split: the cohort's nodules, or for ``annotation`` each reader's annotation."""
        if self.split == "annotation":
            return load_annotation_cohort(protocol)
        return load_cohort(protocol)

    def folds(self) -> Folds | SliceFolds:
        if self.split == "slice":
            return load_slice_folds(split_path(self.split))
        return load_folds(split_path(self.split))

    @property
    def hash(self) -> str:
        """A digest of the variant's name, its protocol's hash and its split file's bytes."""
        canonical = json.dumps({"variant": self.name, "protocol": self.protocol().hash,
                                "folds": hashlib.sha256(split_path(self.split).read_bytes()).hexdigest()},
                               sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:10]

    def to_record(self) -> dict[str, Any] | None:
        """What a record keeps (None for the default, whose records stay as they were)."""
        if self.is_default:
            return None
        selection = {"selection": self.selection} if self.selection != "fixed" else {}  # older records lack it
        return {"name": self.name, "split": self.split, "labels": self.labels, **selection, "unit": self.unit,
                "hash": self.hash, "folds_file": split_path(self.split).name}

    @classmethod
    def from_record(cls, document: dict[str, Any] | None) -> Variant:
        return cls() if not document else cls(document["split"], document["labels"],
                                              document.get("selection", "fixed"))


def make_split_folds(cohort: Cohort, split: str, seed: int = FOLDS_SEED) -> Folds:
    """Five folds of the default cohort at ``split``'s unit, stratified by label (run once, then frozen)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    table = cohort.table
    if split == "scan":
        parts = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed).split(
            table, table["label"], groups=table["scan_id"])
    elif split in ("nodule", "annotation"):  # annotation: ``cohort`` is the annotation cohort
        parts = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed).split(table, table["label"])
    else:
        raise ProtocolError(f"no split file is made for {split!r}.")
    nodules = {table["nodule_id"].iat[i]: fold for fold, (_, test) in enumerate(parts) for i in test}
    return Folds(FOLDS_VERSION, N_FOLDS, seed, cohort.protocol.hash, {}, nodules)
