"""A method that tries to read the labels, one route per ``route``: the leakage guard's test.

Each route is an ordinary mistake a plugin could make; the guard must refuse
every one of them while ``fit`` or ``predict`` runs (see
:mod:`lidcbench.running.isolation`). The loader is bound when this module is
imported, as a plugin that writes ``from lidcbench.protocol.cohort import ...`` at its
top would, so that patching ``lidcbench.protocol.cohort`` cannot catch it.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from lidcbench.plugins.method import FoldData, Method, prediction_frame
from lidcbench.protocol.cohort import _load_cohort  # bound at import time, on purpose
from lidcbench.protocol.rules import Protocol

ROUTES = ("bound_loader", "sqlite", "frozen_files", "cohort_cache", "records", "swallowed")


class LabelReadingMethod(Method):
    """Predicts the true label of each test nodule if its route lets it read one.

    ``target``: the file the route opens (the database for ``bound_loader``
    and ``sqlite``, a frozen or cache file otherwise). ``swallowed`` opens
    ``target`` and ignores the refusal, which must still fail the fold.
    """

    def __init__(self, route: str = "bound_loader", target: str = "", seed: int = 0):
        self.route = route
        self.target = target
        self.seed = seed

    def fit(self, train: FoldData) -> LabelReadingMethod:
        self.fitted_ = True
        return self

    def predict(self, test: FoldData):
        labels = self._read_labels()
        malignancy = np.array([labels.get(n, 0.5) for n in test.patches.nodule_ids], dtype=float)
        return prediction_frame(test, malignancy)

    def _read_labels(self) -> dict[str, float]:
        if self.route == "bound_loader":
            table = _load_cohort(Protocol(), Path(self.target)).table
            return dict(zip(table["nodule_id"], table["label"].astype(float)))
        if self.route == "sqlite":
            rows = sqlite3.connect(self.target).execute("select count(*) from annotations").fetchall()
            return {"rows": float(rows[0][0])}
        if self.route == "swallowed":
            try:
                Path(self.target).read_bytes()
            except Exception:  # noqa: BLE001 - the point: a method that hides the refusal
                pass
            return {}
        if self.route in ("frozen_files", "cohort_cache", "records"):
            return {"bytes": float(len(Path(self.target).read_bytes()))}
        raise ValueError(f"unknown route {self.route!r}")
