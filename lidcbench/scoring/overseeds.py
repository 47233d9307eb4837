"""A leaderboard's methods over seeds: each metric's mean over seeds with its spread, and the ΔAUC
against the reference method from every seed's predictions.

Rows of the same method and profile with two or more seeds get one summary;
the per-seed rows stay on the page beside it. The ΔAUC is DeLong's paired test
on the seed-averaged predictor: each nodule's malignancy probability averaged
over the seeds (the reference's over its own seeds), on the nodules every seed
scored, so each seed's predictions count and each nodule counts once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .score import compare

METRICS = ("accuracy", "sensitivity", "specificity", "auc")  # fold means of each seed; plus the pooled AUC


@dataclass(frozen=True)
class SeedSummary:
    method: str
    profile: str
    label: str
    seeds: tuple[int, ...]
    metrics: dict[str, dict[str, float | None]]  # name -> {"mean", "std"} over seeds
    versus_reference: dict[str, Any] | None


def _spread(values: list[float | None]) -> dict[str, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None}
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}


def seed_averaged(entries) -> pd.DataFrame:
    """Each nodule's malignancy averaged over the entries (seeds), on the nodules all of them scored."""
    frames = [e.nodules[["nodule_id", "label", "malignancy"]] for e in entries]
    shared = set.intersection(*(set(f["nodule_id"]) for f in frames))
    stacked = pd.concat(frames, ignore_index=True)
    stacked = stacked[stacked["nodule_id"].isin(shared)]
    return stacked.groupby("nodule_id", as_index=False).agg(label=("label", "first"), malignancy=("malignancy", "mean"))


def summarize_over_seeds(entries, reference_method: str) -> tuple[SeedSummary, ...]:
    """One summary per (method, profile) that has two or more seeds, in the entries' order."""
    groups: dict[tuple[str, str], list] = {}
    for entry in entries:
        groups.setdefault((entry.method, entry.profile), []).append(entry)
    references = [e for e in entries if e.method == reference_method]
    summaries = []
    for (method, profile), group in groups.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda e: e.seed)
        metrics = {name: _spread([e.summary["classification"][name]["mean"] for e in group]) for name in METRICS}
        metrics["pooled_auc"] = _spread([e.summary["pooled"]["auc"] for e in group])
        versus = None
        if references and method != reference_method:
            ours, theirs = seed_averaged(group), seed_averaged(references)
            shared = sorted(set(ours["nodule_id"]) & set(theirs["nodule_id"]))
            if shared and ours["label"].nunique() == 2:
                versus = compare(ours[ours["nodule_id"].isin(shared)], theirs[theirs["nodule_id"].isin(shared)])
        summaries.append(SeedSummary(method, profile, group[0].label, tuple(e.seed for e in group), metrics, versus))
    return tuple(summaries)
