"""The size baseline computed where no record holds it: the registered ``diameter`` method, fitted and run
in this process through its own ``fit`` and ``predict`` on the frozen folds.

A page or a score without ``diameter`` records would otherwise lose its comparison with size, the one
every row needs. The method reads only the readers' mean diameter, never pixels, so it is given one
placeholder patch per nodule: it gives every slice of a nodule the same probability, so a nodule's score is
the one a run with real patches gives on the same training nodules (the full training folds of the cohort).
It is deterministic and takes about a second per fold.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from lidcbench.patches import Patches
from lidcbench.plugins.method import FoldData
from lidcbench.plugins.predictions import validate_predictions
from lidcbench.plugins.registry import default_registry
from lidcbench.scoring.score import Score, score_folds

SIZE_METHOD = "diameter"
COMPUTED_NOTE = "size baseline computed for this page, not from a record"


def _placeholder_patches(table) -> Patches:
    """One empty 1-pixel patch per nodule, at its first slice: the diameter method looks at no pixels."""
    ids = table["nodule_id"].to_numpy()
    first_slices = np.array([int(slices[0]) if len(slices) else 0 for slices in table["slices"]], dtype=int)
    return Patches(images=np.zeros((len(ids), 1, 1), dtype=np.float32), nodule_ids=ids, slice_indices=first_slices,
                   source="none", settings={"placeholder": "the size baseline reads no pixels"},
                   key="size-baseline-placeholder")


def size_baseline(cohort, folds, fold_ids: Iterable[int]) -> Score:
    """The ``diameter`` method's default parameters fitted on each fold's training folds and scored on
    its test fold, as :func:`lidcbench.scoring.score.score_folds` scores any method."""
    method_class = default_registry().get(SIZE_METHOD)
    fold_ids = folds.fold_ids(list(fold_ids))
    frames = []
    for fold in fold_ids:
        train_table, test_table = folds.split(cohort, fold)
        method = method_class()
        fitted = method.fit(FoldData(train_table, _placeholder_patches(train_table), labelled=True))
        test = FoldData.unlabelled(test_table, _placeholder_patches(test_table))
        frames.append(fitted.predict(test))

    predictions = validate_predictions(pd.concat(frames, ignore_index=True), cohort)
    return score_folds(predictions, cohort, folds, fold_ids)
