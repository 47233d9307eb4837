"""Slice-level folds (evaluation variant ``--split slice``): each nodule's slices spread at random over the folds.

As in papers that split a 2D slice dataset at random: every axial slice of
every default-cohort nodule is a sample, assigned to one of five folds by
scikit-learn's ``StratifiedKFold`` (shuffled, seed 20190101, stratified by its
nodule's label), so one nodule's neighbouring slices sit in training and test.

The frozen file is a CSV, ``data/folds-slice-v1.csv`` with the columns
``nodule_id,slice_index,fold``: the very form ``lidcbench check-split``
reads, so anyone can count its near-duplicate slices. It is made once by
``python -m lidcbench.protocol.freeze --variants`` and only read after that.

A fold's test nodules are those with a slice in the fold, its training
nodules those with a slice elsewhere (most nodules are both); a method sees
only the slices of its side.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lidcbench.errors import FrozenFileError

from .cohort import Cohort
from .folds import FOLDS_SEED, FOLDS_VERSION, N_FOLDS, Folds

COLUMNS = ["nodule_id", "slice_index", "fold"]


@dataclass(frozen=True, eq=False)
class SliceFolds:
    """The frozen (nodule, slice) -> fold map of the default cohort."""

    table: pd.DataFrame  # COLUMNS, one row per slice
    version: int = FOLDS_VERSION
    n_folds: int = N_FOLDS

    fold_ids = Folds.fold_ids  # the same parsing of --folds

    def _checked(self, cohort: Cohort) -> None:
        ids, known = set(cohort.table["nodule_id"]), set(self.table["nodule_id"])
        if ids != known:
            raise FrozenFileError(f"the slice folds do not match this cohort ({len(ids - known)} cohort nodules "
                                  f"without slices there, {len(known - ids)} extra): --split slice splits the "
                                  "default cohort only.")

    def split(self, cohort: Cohort, test_fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, test) nodule tables: nodules with a slice outside ``test_fold``, and with one in it."""
        (test_fold,) = self.fold_ids([test_fold])
        self._checked(cohort)
        folds = self.table.groupby("nodule_id")["fold"].agg(set)
        table = cohort.table
        in_test = table["nodule_id"].map(lambda n: test_fold in folds[n])
        elsewhere = table["nodule_id"].map(lambda n: bool(folds[n] - {test_fold}))
        return table[elsewhere].reset_index(drop=True), table[in_test].reset_index(drop=True)

    def in_fold(self, nodule_ids: Iterable[str], slice_indices: Iterable[int], fold: int) -> np.ndarray:
        """Whether each (nodule, slice) is in ``fold``; a slice the file does not hold is an error."""
        wanted = pd.DataFrame({"nodule_id": np.asarray(nodule_ids), "slice_index": np.asarray(slice_indices)})
        found = wanted.merge(self.table, on=["nodule_id", "slice_index"], how="left")
        if found["fold"].isna().any():
            row = found[found["fold"].isna()].iloc[0]
            raise FrozenFileError(f"slice {row['slice_index']} of {row['nodule_id']} has no fold in the slice "
                                  "folds: these patches hold other slices than the cohort's.")
        return found["fold"].to_numpy() == fold

    def to_csv(self) -> str:
        return self.table[COLUMNS].to_csv(index=False, lineterminator="\n")


def make_slice_folds(cohort: Cohort, seed: int = FOLDS_SEED) -> SliceFolds:
    """Every slice of every cohort nodule to a fold, stratified by the nodule's label (run once, then frozen)."""
    from sklearn.model_selection import StratifiedKFold

    slices = cohort.table[["nodule_id", "slices", "label"]].explode("slices", ignore_index=True)
    slices = slices.rename(columns={"slices": "slice_index"}).astype({"slice_index": int})
    slices["fold"] = -1
    parts = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed).split(slices, slices["label"])
    for fold, (_, test) in enumerate(parts):
        slices.loc[test, "fold"] = fold
    return SliceFolds(slices[COLUMNS].sort_values(["nodule_id", "slice_index"], ignore_index=True))


def load_slice_folds(path: Path) -> SliceFolds:
    try:
        table = pd.read_csv(path, dtype={"nodule_id": str, "slice_index": int, "fold": int})
    except (OSError, ValueError) as error:
        raise FrozenFileError(f"cannot read the slice folds {path}: {error}; reinstall lidcbench.") from None
    if list(table.columns) != COLUMNS or not table["fold"].between(0, N_FOLDS - 1).all():
        raise FrozenFileError(f"{path} is not a slice folds file ({', '.join(COLUMNS)}; folds 0-{N_FOLDS - 1}).")
    return SliceFolds(table)
