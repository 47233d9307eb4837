"""The linear baselines on a fold large enough for their feature extraction to go parallel, behind the wall."""
import pytest

from lidcbench.baselines import features
from lidcbench.baselines.linear import LassoMethod
from lidcbench.running.isolation import fit_predict, wall_available
from lidcbench.testing.data import synthetic_split


@pytest.mark.skipif(not wall_available(), reason="the wall needs Linux with Landlock")
def test_lasso_fits_behind_the_wall_when_features_go_to_workers(monkeypatch):
    # The wall refuses /dev/shm, where a pool of worker processes makes its semaphores: a real fold
    # (thousands of slices) once failed there with PermissionError. 200 nodules give > PARALLEL_FROM slices.
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "on")
    train, test = synthetic_split(n_train=200, n_test=16)
    assert len(train.patches) >= features.PARALLEL_FROM
    fitted = fit_predict(LassoMethod, {"inner_folds": 2, "n_alphas": 3, "seed": 0}, train, test, refused=())
    assert fitted.isolation == "wall"
    assert len(fitted.predictions) == len(test.patches)
    assert fitted.predictions["malignancy"].notna().all()


def test_features_made_in_threads_equal_those_made_one_by_one(monkeypatch):
    images = synthetic_split(n_train=200, n_test=2, size=16)[0].patches.images[: features.PARALLEL_FROM]
    assert len(images) == features.PARALLEL_FROM  # enough to be computed in parallel
    monkeypatch.setattr(features, "_may_start_processes", lambda: False)  # as behind the wall
    assert (features.feature_matrix(images, n_jobs=2) == features._features_of(images)).all()
