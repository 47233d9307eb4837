"""Leave-one-reader-out pairs: every reader of every nodule with two or more, against the others.

LIDC does not say which radiologist drew which annotation across scans, so a
"reader" is one reader of one nodule, not a person followed across nodules.
For each pair the other readers give the target: their mean (or the
protocol's median) malignancy labels the pair under the protocol's rule
(below 3 benign, above 3 malignant, exactly 3 left out), and their mean
rating is the attribute target, as :func:`lidcbench.scoring.yardsticks.reader_vs_others`
has always used.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from lidcbench.protocol.attributes import ATTRIBUTE_NAMES

BENIGN_BELOW = 3.0  # the protocol's rule on the readers' malignancy: < 3 benign, > 3 malignant
COLUMNS = ("nodule_id", "reader", "rating", "others_malignancy", "label", "reader_diameter_mm")


def _others(values: tuple[int, ...], reader: int, aggregate: str) -> float:
    if aggregate == "median":
        return float(np.median(values[:reader] + values[reader + 1:]))
    return (sum(values) - values[reader]) / (len(values) - 1)


def reader_pairs(table: pd.DataFrame, aggregate: str = "mean") -> pd.DataFrame:
    """One row per (nodule, reader) of the nodules in ``table`` with two or more readers.

    Columns: :data:`COLUMNS` (``rating``: the reader's own malignancy 1-5;
    ``label``: 1 malignant, 0 benign, NaN where the others' ``aggregate`` is
    exactly 3; ``reader_diameter_mm``: the reader's own greatest diameter, NaN
    where ``table`` has no ``reader_diameters_mm``), then ``reader_<attribute>`` and ``others_<attribute>`` (the
    mean of the other readers) for each of the eight attributes. Sorted by
    nodule id, then reader (the cohort's reader order).
    """
    if "nodule_id" in table.columns:
        table = table.sort_values("nodule_id")
    else:  # a bare table of ratings: its index names the nodules
        table = table.rename_axis("nodule_id").reset_index()
    rows = []
    for nodule in table.itertuples(index=False):
        ratings = nodule.readers_malignancy
        if len(ratings) < 2:
            continue
        diameters = getattr(nodule, "reader_diameters_mm", None) or (np.nan,) * len(ratings)
        for reader, rating in enumerate(ratings):
            others = _others(ratings, reader, aggregate)
            label = np.nan if np.isclose(others, BENIGN_BELOW) else float(others > BENIGN_BELOW)
            row = {"nodule_id": nodule.nodule_id, "reader": reader, "rating": int(rating),
                   "others_malignancy": others, "label": label, "reader_diameter_mm": float(diameters[reader])}
            for name in ATTRIBUTE_NAMES:
                values = getattr(nodule, f"readers_{name}")
                row[f"reader_{name}"] = float(values[reader])
                row[f"others_{name}"] = _others(values, reader, "mean")
            rows.append(row)
    columns = [*COLUMNS, *(f"{side}_{name}" for name in ATTRIBUTE_NAMES for side in ("reader", "others"))]
    return pd.DataFrame(rows, columns=columns)


def labelled(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs with a malignancy label (the others' malignancy is not exactly 3), label as int."""
    kept = pairs[pairs["label"].notna()]
    return kept.astype({"label": int}).reset_index(drop=True)
