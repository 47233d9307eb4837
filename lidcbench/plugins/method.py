"""The method contract every built-in and plugin follows.

A method is a class whose keyword parameters are stored unchanged as
attributes; ``fit(train)`` learns from labelled training folds and returns
the method itself, learned state in attributes ending in ``_``;
``predict(test)`` returns one row per test slice with the malignancy
probability and, where :attr:`Method.predicts_attributes`, the eight
attribute scores on the [0, 1] scale. A method never sees a test label: the
runner hands ``predict`` a :class:`FoldData` without them.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lidcbench.protocol.attributes import ATTRIBUTE_NAMES, RATINGS

# The version of the public plugin API (lidcbench.method, lidcbench.params, lidcbench.testing and the
# entry-point group): raised only by a change that breaks a plugin written to the previous one. Every
# record carries it.
PLUGIN_API_VERSION = 1

# Cohort columns a method may see for unlabelled (test) nodules: identity and
# geometry, never a rating, the label or the readers. A deployed system has no
# readers, and their number alone separates benign from malignant (AUC 0.71:
# large nodules are marked by all four), so nothing per reader is here, nor the
# largest reader diameter (it differs from the mean only where several readers
# marked the nodule). One size measure stays: the readers' mean diameter
# (annotation-derived), which the `diameter` baseline uses and the pages name so.
UNLABELLED_COLUMNS = (
    "nodule_id", "patient_id", "study_uid", "series_uid", "pixel_spacing", "slice_thickness",
    "diameter_mean_mm", "centroid_i", "centroid_j", "centroid_k", "centroid_z_mm", "slices", "n_slices",
)
PREDICTION_COLUMNS = ("nodule_id", "slice_index", "malignancy")


@dataclass(frozen=True)
class FoldData:
    """The nodules a method sees, with their patches.

    ``nodules``: cohort rows (all columns when ``labelled``, else only
    :data:`UNLABELLED_COLUMNS`). ``patches``: a :class:`lidcbench.patches.Patches`
    holding exactly these nodules' slices or, for a method whose ``patch_kind`` is
    ``"volume"``, a :class:`lidcbench.patches.volumes.Volumes` holding one cube per nodule.
    """

    nodules: pd.DataFrame
    patches: Any
    labelled: bool

    @classmethod
    def unlabelled(cls, nodules: pd.DataFrame, patches: Any) -> FoldData:
        return cls(nodules[[c for c in UNLABELLED_COLUMNS if c in nodules.columns]].copy(), patches, False)

    def slice_table(self) -> pd.DataFrame:
        """One row per patch (in patch order; one per cube for volumes) joined with its nodule's row."""
        order = self.patches.nodule_slices()
        return order.merge(self.nodules, on="nodule_id", how="left", validate="many_to_one")

    def targets(self) -> pd.DataFrame:
        """Per-patch (per-cube for volumes) targets: label and the nine scaled ratings (labelled data only)."""
        if not self.labelled:
            raise PermissionError("test data carries no labels")  # an internal invariant, not user input
        columns = ["label", *(f"target_{r.name}" for r in RATINGS)]
        return self.slice_table()[columns].reset_index(drop=True)


class Method:
    """Base class with the contract's plumbing; subclasses define fit and predict.

    Subclasses list their parameters as keyword arguments of ``__init__`` and
    store each unchanged under its own name (as scikit-learn estimators do).
    A method that chooses values while fitting (a regularisation strength by
    inner cross-validation) may leave them in ``selected_params_``, a dict of
    plain values; the record keeps it beside the parameters.
    """

    predicts_attributes: ClassVar[bool] = False
    # What the method sees: "slices" (2D patches, one per slice a nodule spans) or "volume" (one cube per
    # nodule at isotropic spacing; its ``patch_size`` parameter, if any, is the cube's side in voxels,
    # its ``voxel_mm`` the voxel side).
    patch_kind: ClassVar[str] = "slices"
    # False for a method whose predictions do not depend on its seed (a closed-form or deterministic fit):
    # a run with several seeds runs it once, and the pages show that one run for every seed.
    depends_on_seed: ClassVar[bool] = True
    # Named parameter sets, e.g. {"cpu": {...}, "paper": {...}}; the first is the default.
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}
    # What each parameter may be (lidcbench.params: at_least, positive, one_of, ...), checked with
    # the types __init__ declares before a run builds anything; relations check several together.
    param_checks: ClassVar[dict[str, Any]] = {}
    param_relations: ClassVar[tuple[Any, ...]] = ()

    @classmethod
    def param_names(cls) -> list[str]:
        """Keyword parameters of ``__init__``; a variant that passes ``**params`` on
        to its parent (an ablation with other defaults) has its parent's too."""
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass):
                continue
            parameters = inspect.signature(klass.__init__).parameters.values()
            names += [p.name for p in parameters
                      if p.name not in ("self", *names) and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                break
        return names

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    @classmethod
    def default_profile(cls, device: str) -> str:
        return next(iter(cls.profiles))

    def training_set_problem(self, nodules: pd.DataFrame) -> str | None:
        """Why ``fit`` cannot learn from these labelled training nodules (cohort rows), or None.

        Checked by the runner before training, so that a partial download gives a
        one-line error instead of a traceback from deep inside a fit. A method that
        needs more (patients for inner cross-validation, say) extends it."""
        counts = nodules["label"].value_counts() if len(nodules) else pd.Series(dtype=int)
        if len(nodules) < 2:
            return f"holds {len(nodules)} nodule(s); a method needs at least 2"
        absent = [name for value, name in ((0, "benign"), (1, "malignant")) if counts.get(value, 0) == 0]
        if absent:
            return f"holds no {' and no '.join(absent)} nodule ({len(nodules)} nodules in all)"
        return None

    def fit(self, train: FoldData) -> Method:
        raise NotImplementedError

    def predict(self, test: FoldData) -> pd.DataFrame:
        raise NotImplementedError


def prediction_frame(data: FoldData, malignancy: np.ndarray, attributes: np.ndarray | None = None) -> pd.DataFrame:
    """Predictions in the contract's shape, one row per patch of ``data``; for volumes one row per
    cube, a nodule-level prediction without a ``slice_index`` column."""
    frame = data.patches.nodule_slices().astype({"nodule_id": str})
    frame["malignancy"] = np.clip(np.asarray(malignancy, dtype=float), 0.0, 1.0)
    if attributes is not None:
        attributes = np.clip(np.asarray(attributes, dtype=float), 0.0, 1.0)
        for index, name in enumerate(ATTRIBUTE_NAMES):
            frame[name] = attributes[:, index]
    return frame
