"""Volume patches: the cube's geometry, the contours source's cubes, and their cache."""
import dataclasses

import numpy as np
import pytest

from lidcbench.errors import CacheError, PatchesError, SourceError
from lidcbench.patches import rendering
from lidcbench.patches.sources.contours import ContoursSource
from lidcbench.patches.sources.cube import Cube, stack_in_z
from lidcbench.patches.volume_cache import load_volumes
from lidcbench.protocol.attributes import RATINGS
from lidcbench.protocol.database import load_contours
from lidcbench.protocol.geometry import nodule_geometry

SIZE = 32
TISSUE = 0.63  # halfway between parenchyma (0.33) and solid tissue (0.92) under the lung window


@pytest.fixture(scope="module")
def rows(cohort):
    table = cohort.table
    return [table.iloc[i].to_dict() for i in (0, 7, 300, 1200)]


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(rendering, "CHUNK_SLICES", 40)  # about one cube per chunk: several chunks
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def small(cohort):
    return dataclasses.replace(cohort, table=cohort.table.iloc[:6].reset_index(drop=True))


def _cube(size=4, voxel_mm=1.0, centre_z=10.0):
    return Cube(centre=(0.0, 0.0), centre_z=centre_z, size=size, voxel_mm=voxel_mm, pixel_spacing=0.7)


def test_the_cube_is_centred_and_stacking_interpolates_linearly_between_real_slice_positions():
    cube = _cube()
    assert cube.z().tolist() == [8.5, 9.5, 10.5, 11.5]
    planes = np.stack([np.full((4, 4), v, dtype=np.float32) for v in (0.0, 1.0, 0.5)])
    plane_z = np.array([8.0, 10.0, 11.0])  # uneven spacing, as in scans with gaps
    volume = stack_in_z(planes, plane_z, cube, fill=-1.0)
    assert volume[:, 0, 0].tolist() == [0.25, 0.75, 0.75, -1.0]  # 11.5 lies beyond the last slice: fill
    assert cube.slices_needed(np.array([0.0, 5.0, 8.0, 9.0, 10.0, 12.0, 20.0])).tolist() == [2, 3, 4, 5]


def test_the_in_plane_square_spans_the_cube_in_slice_pixels():
    cube = _cube(size=32, voxel_mm=1.0)
    assert cube.crop().side == pytest.approx(32 / 0.7)


def test_each_nodule_gets_one_windowed_cube_with_its_tissue_at_the_centre(rows):
    source = ContoursSource()
    for row in rows:
        volume = source.render_volume(row, SIZE, 1.0)
        assert volume.dtype == np.float32 and volume.shape == (SIZE, SIZE, SIZE)
        assert volume.min() >= 0 and volume.max() <= 1
        tissue = np.argwhere(volume > TISSUE)
        assert len(tissue), row["nodule_id"]
        centre = (tissue.min(axis=0) + tissue.max(axis=0)) / 2
        assert np.abs(centre - (SIZE - 1) / 2).max() <= 2.5, (row["nodule_id"], centre)


def test_the_cube_keeps_physical_size_whatever_the_slice_thickness_and_pixel_spacing(rows):
    """At 1 mm a voxel, the tissue's extent along z and in-plane follows the readers' outlines in mm."""
    source = ContoursSource()
    for row in rows:
        geometry = nodule_geometry(row)
        scan_z = load_contours().slice_z[geometry.scan_id]
        z_extent = max(geometry.slice_z) - min(geometry.slice_z)
        volume = source.render_volume(row, 64, 1.0)
        tissue = np.argwhere(volume > TISSUE)
        measured = tissue[:, 0].max() - tissue[:, 0].min()
        spacing = float(np.median(np.diff(scan_z)))
        assert abs(measured - z_extent) <= spacing + 2, (row["nodule_id"], measured, z_extent, spacing)


def test_a_larger_voxel_shrinks_the_nodule_in_the_cube(rows):
    source = ContoursSource()
    fine = (source.render_volume(rows[3], SIZE, 1.0) > TISSUE).sum()
    coarse = (source.render_volume(rows[3], SIZE, 2.0) > TISSUE).sum()
    assert 4 < fine / coarse < 12  # 8 in theory; partial volume blurs it


def test_volumes_are_deterministic_and_carry_no_rating_or_label(rows):
    source = ContoursSource()
    for row in rows[:2]:
        changed = dict(row)
        for rating in RATINGS:
            changed[rating.name] = rating.high + rating.low - row[rating.name]
            changed[f"target_{rating.name}"] = 1 - row[f"target_{rating.name}"]
            changed[f"readers_{rating.name}"] = tuple(rating.high + rating.low - r for r in row[f"readers_{rating.name}"])
        changed["label"] = 1 - row["label"]
        geometry_only = {k: row[k] for k in ("nodule_id", "scan_id", "annotation_ids", "slices", "pixel_spacing")}
        first = source.render_volume(row, SIZE, 1.0)
        assert np.array_equal(first, source.render_volume(changed, SIZE, 1.0))
        assert np.array_equal(first, source.render_volume(geometry_only, SIZE, 1.0))
    assert not np.array_equal(source.render_volume(rows[0], SIZE, 1.0), source.render_volume(rows[1], SIZE, 1.0))


def test_volumes_are_built_once_then_read_back_mapped_and_identical(small, isolated_cache, monkeypatch):
    built = load_volumes(small, size=SIZE, progress=False, workers=1)
    assert built.images.shape == (len(small.table), SIZE, SIZE, SIZE) and built.images.dtype == np.float16
    assert built.nodule_ids.tolist() == small.table["nodule_id"].tolist()
    assert built.settings["kind"] == "volume" and built.settings["voxel_mm"] == 1.0
    assert "z_interpolation" in built.settings and "in_plane" in built.settings
    rendered = ContoursSource().render_volume(small.table.iloc[2].to_dict(), SIZE, 1.0)
    assert np.abs(built.images[2].astype(np.float32) - rendered).max() < 5e-4  # float16's precision
    monkeypatch.setattr(ContoursSource, "render_volume", lambda *a: pytest.fail("rendered again"))
    again = load_volumes(small, size=SIZE, progress=False, workers=1)
    assert np.array_equal(again.images, built.images) and not again.images.flags.writeable
    picked = again.select([small.table["nodule_id"].iat[3], small.table["nodule_id"].iat[0]])
    assert np.array_equal(picked.images[0], built.images[3]) and len(picked) == 2


def test_parallel_volume_build_equals_serial_and_keys_differ_by_size_and_voxel(small, isolated_cache):
    serial = load_volumes(small, size=16, progress=False, workers=1)
    other_voxel = load_volumes(small, size=16, voxel_mm=0.5, progress=False, workers=2)
    assert serial.key != other_voxel.key and "vol16" in serial.key
    files = sorted((isolated_cache / "patches").glob("*.patches"))
    assert len(files) == 2
    for path in files:
        path.unlink()
    parallel = load_volumes(small, size=16, progress=False, workers=2)
    assert parallel.key == serial.key and np.array_equal(parallel.images, serial.images)


def test_a_damaged_volume_file_is_detected_and_rebuilt(small, isolated_cache):
    built = load_volumes(small, size=16, progress=False, workers=1)
    path = next((isolated_cache / "patches").glob("*.patches"))
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    from lidcbench.patches.volume_cache import read_volumes

    with pytest.raises(CacheError, match="checksum"):
        read_volumes(path, built.key, small.table)
    rebuilt = load_volumes(small, size=16, progress=False, workers=1)
    assert np.array_equal(rebuilt.images, built.images)


def test_bad_volume_settings_and_sources_without_volumes_are_named_errors(small, isolated_cache):
    with pytest.raises(PatchesError, match="volume size"):
        load_volumes(small, size=4, progress=False)
    with pytest.raises(PatchesError, match="voxel size"):
        load_volumes(small, size=16, voxel_mm=0.0, progress=False)

    class Flat(ContoursSource):
        name = "flat"

        def volume_settings(self):
            return super(ContoursSource, self).volume_settings()

    with pytest.raises(SourceError, match="does not render volumes"):
        load_volumes(small, Flat(), size=16, progress=False)


def test_a_volume_methods_page_says_why_it_has_no_gallery(cohort):
    from types import SimpleNamespace

    from lidcbench.errors import LidcbenchError
    from lidcbench.reports.gallery import source_patches

    record = SimpleNamespace(source="contours", source_settings={"kind": "volume", "patch_size": 64})
    with pytest.raises(LidcbenchError, match="saw cubes"):
        source_patches(record, cohort)
