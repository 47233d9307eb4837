"""Conformance checks for lidcbench methods, in the manner of scikit-learn's
``check_estimator``: small named checks that every method passes.

In a plugin's own tests::

    import pytest
    from lidcbench.testing import method_checks

    @pytest.mark.parametrize("check", method_checks(MyMethod, {"epochs": 1}), ids=lambda c: c.__name__)
    def test_conformance(check):
        check()

Each check builds small synthetic patches for real cohort nodules (training
nodules from folds 1-4, test nodules from fold 0), so a check runs in
seconds for any method that can train on a few dozen 32-pixel slices (or,
for a volume method, a few dozen 16-voxel cubes).
``check_no_test_labels`` runs fit and predict under the leakage guard
(:mod:`lidcbench.running.isolation`), as a run does; :func:`check_guard` proves the
guard itself against a method that tries every ordinary route to the labels.

No check asks for what the runner absorbs: it never calls ``fit`` or
``predict`` with zero rows (a fold without test nodules is skipped, a training
set a method cannot learn from is refused before training), so a plugin need
not handle empty input.
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lidcbench.errors import LeakageError
from lidcbench.plugins.method import PREDICTION_COLUMNS, FoldData
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES
from lidcbench.protocol.database import default_db_path
from lidcbench.running.isolation import fit_predict, label_sources

from .data import synthetic_split
from .guard import check_guard

__all__ = ["CHECKS", "check_guard", "check_method", "method_checks"]


def _fresh(method_class, params: dict[str, Any]):
    return method_class(**copy.deepcopy(params))


def _guarded(method_class, params: dict[str, Any], train: FoldData, test: FoldData) -> pd.DataFrame:
    """fit and predict as the runner runs them: in a child process that cannot open the
    annotation database, the frozen files, a cohort cache or records (lidcbench.running.isolation)."""
    try:
        return fit_predict(method_class, copy.deepcopy(params), train, test,
                           label_sources(default_db_path())).predictions
    except LeakageError as error:
        raise AssertionError(str(error)) from error


def check_parameters_stored_unchanged(method_class, params, data):
    method = _fresh(method_class, params)
    for name in method_class.param_names():
        assert hasattr(method, name), f"parameter {name!r} is not stored as an attribute of the same name"
    for name, value in params.items():
        assert getattr(method, name) == value, f"parameter {name!r} was not stored unchanged"
    stored = method.get_params()
    assert set(stored) == set(method_class.param_names()), "get_params must list every __init__ parameter"
    assert _fresh(method_class, stored).get_params() == stored, "rebuilding from get_params changed the parameters"


def check_fit_returns_self_and_learned_state_ends_in_underscore(method_class, params, data):
    train, _ = data
    method = _fresh(method_class, params)
    before = set(vars(method))
    assert method.fit(train) is method, "fit must return the method itself"
    learned = set(vars(method)) - before
    assert learned, "fit learned nothing into attributes"
    assert all(name.endswith("_") for name in learned), f"learned attributes must end in '_': {sorted(learned)}"


def check_fit_leaves_training_data_unchanged(method_class, params, data):
    train, _ = data
    nodules, images = train.nodules.copy(), np.array(train.patches.images, copy=True)
    _fresh(method_class, params).fit(train)
    pd.testing.assert_frame_equal(train.nodules, nodules)
    assert np.array_equal(train.patches.images, images), "fit modified the training patches"


def check_predictions_shape_and_range(method_class, params, data):
    train, test = data
    predictions = _fresh(method_class, params).fit(train).predict(test)
    assert isinstance(predictions, pd.DataFrame), "predict must return a DataFrame"
    volume = _kind(method_class) == "volume"
    identity = ["nodule_id"] if volume else ["nodule_id", "slice_index"]  # a cube stands for its whole nodule
    expected = [c for c in PREDICTION_COLUMNS if c in identity or c == "malignancy"] + (
        list(ATTRIBUTE_NAMES) if method_class.predicts_attributes else [])
    assert list(predictions.columns) == expected, f"columns {list(predictions.columns)} != {expected}"
    unit = "cube" if volume else "slice"
    assert len(predictions) == len(test.patches), f"predict must return one row per test {unit}"
    assert (predictions["nodule_id"].to_numpy() == np.asarray(test.patches.nodule_ids)).all()
    if not volume:
        assert (predictions["slice_index"].to_numpy() == np.asarray(test.patches.slice_indices)).all()
    values = predictions[expected[len(identity):]].to_numpy(dtype=float)
    assert np.isfinite(values).all(), "predictions hold NaN or infinity"
    assert ((values >= 0) & (values <= 1)).all(), "probabilities and attribute scores must lie in [0, 1]"


def check_deterministic_under_a_seed(method_class, params, data):
    """The same seed, the same predictions; a method that declares ``depends_on_seed = False`` gives them
    under another seed too (a run then makes one run stand for every seed)."""
    train, test = data
    first = _fresh(method_class, params).fit(train).predict(test)
    second = _fresh(method_class, params).fit(train).predict(test)
    pd.testing.assert_frame_equal(first, second, check_exact=False, rtol=1e-5, atol=1e-6)
    if not method_class.depends_on_seed and "seed" in method_class.param_names():
        other = {**params, "seed": int(params.get("seed", 0)) + 1}
        third = _fresh(method_class, other).fit(train).predict(test)
        pd.testing.assert_frame_equal(first, third, check_exact=False, rtol=1e-5, atol=1e-6,
                                      obj="predictions under another seed (depends_on_seed = False)")


def check_no_test_labels(method_class, params, data):
    """Under the leakage guard, as in a run: a method that opens what holds labels fails here
    with LeakageError, however it reached the file. Its predictions must not depend on the
    row order of the test table either (a cheap sign of joins against hidden state)."""
    train, test = data
    shuffled = FoldData.unlabelled(test.nodules.sample(frac=1.0, random_state=0), test.patches)
    plain = _guarded(method_class, params, train, test)
    reordered = _guarded(method_class, params, train, shuffled)
    pd.testing.assert_frame_equal(plain, reordered, check_exact=False, rtol=1e-5, atol=1e-6)


def check_parameter_declarations(method_class, params, data):
    """Declared checks name real parameters, and the defaults, each profile and ``params`` pass them."""
    from lidcbench.errors import ParameterError
    from lidcbench.plugins.params import check_params, defaults, param_checks, param_relations

    names = set(method_class.param_names())
    declared = set(param_checks(method_class)) | {n for r in param_relations(method_class) for n in r.names}
    assert declared <= names, f"checks declared for unknown parameter(s) {sorted(declared - names)}"
    initial = defaults(method_class)
    for label, values in [("the __init__ defaults", initial), ("the check parameters", {**initial, **params}),
                          *((f"profile {name!r}", {**initial, **profile})
                            for name, profile in method_class.profiles.items())]:
        try:
            check_params(method_class, values)
        except ParameterError as error:
            raise AssertionError(f"{label} break the method's own parameter checks: {error}") from None


CHECKS: tuple[Callable, ...] = (
    check_parameters_stored_unchanged,
    check_parameter_declarations,
    check_fit_returns_self_and_learned_state_ends_in_underscore,
    check_fit_leaves_training_data_unchanged,
    check_predictions_shape_and_range,
    check_deterministic_under_a_seed,
    check_no_test_labels,
)


def _kind(method_class) -> str:
    return getattr(method_class, "patch_kind", "slices")


@functools.lru_cache(maxsize=4)
def _data(n_train: int, n_test: int, size: int, kind: str = "slices"):
    return synthetic_split(n_train=n_train, n_test=n_test, size=size, kind=kind)


def method_checks(method_class, params: dict[str, Any] | None = None, *, n_train: int = 48, n_test: int = 16,
                  size: int | None = None) -> list[Callable[[], None]]:
    """The checks for ``method_class`` built with ``params``, each a no-argument callable named after its check.

    The data are 32-pixel patches, or for a method whose ``patch_kind`` is ``"volume"`` 16-voxel cubes,
    unless ``size`` says otherwise."""
    params = params or {}
    kind = _kind(method_class)
    size = size or (16 if kind == "volume" else 32)
    checks = []
    for check in CHECKS:
        def bound(check=check):
            check(method_class, params, _data(n_train, n_test, size, kind))
        bound.__name__ = check.__name__
        checks.append(bound)
    return checks


def check_method(method_class, params: dict[str, Any] | None = None, **data_options) -> None:
    """Run every check; raises AssertionError naming the first that fails."""
    for check in method_checks(method_class, params, **data_options):
        try:
            check()
        except AssertionError as error:
            raise AssertionError(f"{method_class.__name__} fails {check.__name__}: {error}") from error
