"""Small synthetic nodule tables with the cohort's columns, so scorer tests need no database."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lidcbench.plugins.predictions import Predictions
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES, RATINGS


def nodule_table(n: int, seed: int, prefix: str = "N") -> pd.DataFrame:
    """``n`` nodules with 1-4 readers, ratings on each scale, diameters 3-30 mm, label from malignancy."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n):
        readers = int(rng.integers(1, 5))
        diameter = float(rng.uniform(3, 30))
        row = {"nodule_id": f"{prefix}{index:04d}", "diameter_mean_mm": diameter, "diameter_max_mm": diameter + 1,
               "slices": tuple(range(10, 10 + int(rng.integers(1, 5))))}
        for rating in RATINGS:
            values = tuple(int(v) for v in rng.integers(rating.low, rating.high + 1, size=readers))
            if rating.name == "malignancy" and np.isclose(np.mean(values), 3):
                values = (*values[:-1], 4 if values[-1] < 5 else 2)  # never exactly 3, as the protocol excludes it
            row[f"readers_{rating.name}"] = values
            row[rating.name] = float(np.mean(values))
        row["label"] = int(row["malignancy"] > 3)
        rows.append(row)
    return pd.DataFrame(rows)


def slice_predictions(table: pd.DataFrame, seed: int, signal: float = 1.0, attributes: bool = True) -> Predictions:
    """Per-slice predictions that follow the label by ``signal`` plus noise, attributes near the truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for nodule in table.itertuples():
        for k in nodule.slices:
            row = {"nodule_id": nodule.nodule_id, "slice_index": k,
                   "malignancy": float(np.clip(0.5 + signal * (nodule.label - 0.5) + rng.normal(0, 0.3), 0, 1))}
            if attributes:
                for rating in RATINGS[:8]:
                    scaled = (getattr(nodule, rating.name) - rating.low) / (rating.high - rating.low)
                    row[rating.name] = float(np.clip(scaled + rng.normal(0, 0.1), 0, 1))
            rows.append(row)
    frame = pd.DataFrame(rows).astype({"slice_index": "Int64"})
    return Predictions(frame[["nodule_id", "slice_index", "malignancy", *(ATTRIBUTE_NAMES if attributes else ())]])
