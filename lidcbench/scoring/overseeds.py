"""A leaderboard's methods over seeds: each metric's mean over seeds with its spread, the ΔAUC against the
reference method included.

Rows of the same method and profile with two or more seeds get one summary;
the per-seed rows stay on the page beside it. Every column, the ΔAUC too, is
the mean ± sample standard deviation over seeds of the per-seed values, so a
summary row is the average of the rows it summarizes and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ("accuracy", "sensitivity", "specificity", "auc")  # fold means of each seed; plus the pooled AUC


@dataclass(frozen=True)
class SeedSummary:
    method: str
    profile: str
    label: str
    seeds: tuple[int, ...]
    metrics: dict[str, dict[str, float | None]]  # name -> {"mean", "std"} over seeds
    # {"mean", "std"} over seeds of each seed's paired ΔAUC against the reference; None where a seed has none
    versus_reference: dict[str, float | None] | None


def _spread(values: list[float | None]) -> dict[str, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None}
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}


def summarize_over_seeds(entries) -> tuple[SeedSummary, ...]:
    """One summary per (method, profile) that has two or more seeds, in the entries' order."""
    groups: dict[tuple[str, str], list] = {}
    for entry in entries:
        groups.setdefault((entry.method, entry.profile), []).append(entry)
    summaries = []
    for (method, profile), group in groups.items():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda e: e.seed)
        metrics = {name: _spread([e.summary["classification"][name]["mean"] for e in group]) for name in METRICS}
        metrics["pooled_auc"] = _spread([e.summary["pooled"]["auc"] for e in group])
        differences = [e.versus_reference["difference"] if e.versus_reference else None for e in group]
        versus = None if None in differences else _spread(differences)
        summaries.append(SeedSummary(method, profile, group[0].label, tuple(e.seed for e in group), metrics, versus))
    return tuple(summaries)
