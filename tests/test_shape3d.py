"""The shape3d baseline: its features measure known shapes (its conformance is in test_conformance.py)."""
import numpy as np
import pytest

from lidcbench.baselines.shape_features import FEATURE_NAMES, nodule_mask, shape_features

SIZE = 48


def _ellipsoid(radii, centre=None):
    grid = np.indices((SIZE, SIZE, SIZE)).astype(float)
    centre = np.array(centre if centre is not None else [(SIZE - 1) / 2] * 3)
    return sum(((axis - c) / r) ** 2 for axis, c, r in zip(grid, centre, radii)) <= 1


def _features(mask, voxel_mm=1.0):
    return dict(zip(FEATURE_NAMES, shape_features(mask, voxel_mm)))


def test_a_ball_measures_as_a_ball():
    ball = _features(_ellipsoid((10, 10, 10)))
    assert np.exp(ball["log_volume_mm3"]) == pytest.approx(4 / 3 * np.pi * 1000, rel=0.03)
    assert np.exp(ball["log_surface_mm2"]) == pytest.approx(4 * np.pi * 100, rel=0.1)
    assert 0.9 < ball["sphericity"] <= 1.0
    assert ball["elongation"] > 0.97 and ball["flatness"] > 0.97 and ball["solidity"] > 0.93
    assert ball["extent"] == pytest.approx(np.pi / 6, abs=0.03)  # a ball in its bounding cube


def test_elongation_flatness_and_voxel_size_follow_the_shape():
    cigar = _features(_ellipsoid((16, 8, 4)))
    assert cigar["elongation"] == pytest.approx(0.5, abs=0.03) and cigar["flatness"] == pytest.approx(0.25, abs=0.03)
    assert cigar["sphericity"] < _features(_ellipsoid((10, 10, 10)))["sphericity"]
    assert np.exp(cigar["log_z_extent_mm"]) == pytest.approx(33, abs=1)
    doubled = _features(_ellipsoid((16, 8, 4)), voxel_mm=2.0)
    assert doubled["log_volume_mm3"] - cigar["log_volume_mm3"] == pytest.approx(np.log(8))
    assert doubled["sphericity"] == pytest.approx(cigar["sphericity"])


def test_a_lobulated_nodule_is_less_solid_and_less_spherical_than_a_ball():
    c = (SIZE - 1) / 2
    lobes = _ellipsoid((7, 7, 7), centre=(c, c - 6, c)) | _ellipsoid((7, 7, 7), centre=(c, c + 6, c))
    dumbbell, ball = _features(lobes), _features(_ellipsoid((10, 10, 10)))
    assert dumbbell["solidity"] < ball["solidity"] - 0.05 and dumbbell["sphericity"] < ball["sphericity"]


def test_the_mask_is_the_tissue_component_nearest_the_centre():
    cube = np.full((SIZE, SIZE, SIZE), 0.33, dtype=np.float32)
    cube[_ellipsoid((6, 6, 6))] = 0.92
    cube[_ellipsoid((9, 9, 9), centre=(8, 8, 8))] = 0.92  # a larger blob off centre
    mask = nodule_mask(cube)
    assert mask.sum() == _ellipsoid((6, 6, 6)).sum()
    assert not nodule_mask(np.full((8, 8, 8), 0.33, dtype=np.float32)).any()
    assert np.isfinite(shape_features(np.zeros((8, 8, 8), dtype=bool), 1.0)).all()  # no tissue: still a row




def test_a_run_builds_the_cube_size_the_method_defaults_to():
    from lidcbench.running.fold import FoldJob, plan

    resolved = plan(FoldJob(method="shape3d", fold=0))
    assert (resolved.patch_kind, resolved.patch_size, resolved.voxel_mm) == ("volume", 64, 1.0)
    assert plan(FoldJob(method="shape3d", fold=0, params={"patch_size": 32})).patch_size == 32
