"""The conformance checks catch the contract breaches they name."""
import numpy as np
import pytest

from lidcbench.method import Method, prediction_frame
from lidcbench.protocol.cohort import load_cohort
from lidcbench.testing import check_method


class _Constant(Method):
    def __init__(self, value: float = 0.3, seed: int = 0):
        self.value = value
        self.seed = seed

    def fit(self, train):
        self.mean_ = float(train.targets()["label"].mean())
        return self

    def predict(self, test):
        return prediction_frame(test, np.full(len(test.patches), self.value))


def test_a_conforming_method_passes():
    check_method(_Constant)


class _Peeks(_Constant):
    def predict(self, test):
        labels = load_cohort().table.set_index("nodule_id")["label"]
        return prediction_frame(test, labels.loc[list(test.patches.nodule_ids)].to_numpy(float))


class _ReturnsNone(_Constant):
    def fit(self, train):
        super().fit(train)


class _Renames(_Constant):
    def __init__(self, value: float = 0.3, seed: int = 0):
        self.v = value
        self.seed = seed


class _Random(_Constant):
    def predict(self, test):
        return prediction_frame(test, np.random.random(len(test.patches)))


class _OutOfRange(_Constant):
    def predict(self, test):
        frame = prediction_frame(test, np.zeros(len(test.patches)))
        frame["malignancy"] = 1.5
        return frame


class _PublicState(_Constant):
    def fit(self, train):
        self.mean = 0.0
        return self


@pytest.mark.parametrize("method, expected", [
    (_Peeks, "tried to open what holds labels"),
    (_ReturnsNone, "check_fit_returns_self_and_learned_state_ends_in_underscore"),
    (_Renames, "check_parameters_stored_unchanged"),
    (_Random, "check_deterministic_under_a_seed"),
    (_OutOfRange, "check_predictions_shape_and_range"),
    (_PublicState, "check_fit_returns_self_and_learned_state_ends_in_underscore"),
])
def test_a_breach_is_caught_by_its_check(method, expected):
    with pytest.raises(AssertionError) as caught:
        check_method(method)
    assert expected in str(caught.value)
