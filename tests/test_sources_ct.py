"""The ct source on synthetic DICOM series written for real scans of the annotation DB."""
import dataclasses
import shutil

import numpy as np
import pydicom
import pytest

from lidcbench.errors import DicomSeriesError, MissingScansError, SourceError
from lidcbench.patches.cache import load_patches
from lidcbench.patches.sources import make_source
from lidcbench.patches.sources.ct import DICOM_ROOT_ENV, CtSource, find_dicom_root
from lidcbench.patches.sources.synthetic_ct import write_series
from lidcbench.protocol._pylidc import load
from lidcbench.protocol.geometry import nodule_geometry

pytestmark = pytest.mark.lidc_ct
SIZE = 64
# scan id -> (layout, rescale slope and intercept, write every slice?)
SCANS = {698: ("tcia", (1.0, -1024.0), True), 1: ("uids", (1.0, -1000.0), True), 936: ("tcia", (2.0, -2048.0), False)}


@pytest.fixture(scope="module")
def dicom_root(tmp_path_factory, cohort):
    root = tmp_path_factory.mktemp("LIDC-IDRI")
    for scan_id, (layout, rescale, every_slice) in SCANS.items():
        nodules = cohort.table[cohort.table["scan_id"] == scan_id]
        slices = None if every_slice else {k for ks in nodules["slices"] for k in ks}
        write_series(scan_id, nodules, root, layout, slices=slices, rescale=rescale)
    return root


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(DICOM_ROOT_ENV, raising=False)
    (tmp_path / "home").mkdir()


def _nodules(cohort, scan_ids=tuple(SCANS)):
    return cohort.table[cohort.table["scan_id"].isin(scan_ids)].to_dict("records")


def _copy_series(dicom_root, tmp_path, scan_id, cohort):
    """A private copy of one scan's patient folder, to damage."""
    patient = _nodules(cohort, (scan_id,))[0]["patient_id"]
    shutil.copytree(dicom_root / patient, tmp_path / "copy" / patient)
    folder = next(p.parent for p in (tmp_path / "copy" / patient).rglob("*.dcm") if "CXR" not in str(p))
    return tmp_path / "copy", folder


def test_every_patch_holds_the_blob_at_its_centre(dicom_root, cohort):
    source = CtSource(dicom_root)
    for row in _nodules(cohort):
        images, slices = source.render_nodule(row, SIZE)
        assert slices.tolist() == list(row["slices"])
        centre = images[:, SIZE // 2 - 1:SIZE // 2 + 1, SIZE // 2 - 1:SIZE // 2 + 1]
        assert (centre == 1.0).all(), row["nodule_id"]  # the blob's 150 HU is at the window's top
        for image in images:
            bright = np.argwhere(image > 0.9)
            assert np.abs(bright.mean(axis=0) - (SIZE - 1) / 2).max() < 2, row["nodule_id"]


def test_patches_equal_the_synthetic_truth_computed_by_plain_numpy(dicom_root, cohort):
    # Expected pixels from what write_series drew (background -900 + 0.25 row + 0.5 col + 2 (k % 100) HU
    # stored as whole numbers, 150 HU discs), the lung window [-1350, 150] HU, the crop rule (bounding box of
    # every reader's contour points from pylidc's own annotations, side 1.25 x its longer extent, pixel
    # centres at centre + (a + 0.5) side / size - side / 2) and bilinear sampling written out here: none of
    # it through lidcbench's geometry, window or crop code.
    pylidc = load()
    source = CtSource(dicom_root)
    grid_rows, grid_cols = np.indices((512, 512))
    checked = 0
    for scan_id in (scan for scan, (_, _, every_slice) in SCANS.items() if every_slice):
        rows = _nodules(cohort, (scan_id,))
        discs = [_disc(r, pylidc) for r in rows]
        for row, (centre, side, _) in zip(rows, discs):
            images, slices = source.render_nodule(row, SIZE)
            offsets = (np.arange(SIZE) + 0.5) * side / SIZE - side / 2
            r, c = np.meshgrid(centre[0] + offsets, centre[1] + offsets, indexing="ij")
            assert r.min() >= 0 and c.min() >= 0 and r.max() < 511 and c.max() < 511  # inside the slice
            for image, k in zip(images, slices):
                hu = np.round(-900.0 + 0.25 * grid_rows + 0.5 * grid_cols + 2.0 * (k % 100))
                for other, (o_centre, _, o_radius) in zip(rows, discs):
                    if k in other["slices"]:
                        hu[(grid_rows - o_centre[0]) ** 2 + (grid_cols - o_centre[1]) ** 2 <= o_radius ** 2] = 150.0
                windowed = np.clip((hu + 1350.0) / 1500.0, 0.0, 1.0)
                r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
                wr, wc = r - r0, c - c0
                expected = (windowed[r0, c0] * (1 - wr) * (1 - wc) + windowed[r0 + 1, c0] * wr * (1 - wc)
                            + windowed[r0, c0 + 1] * (1 - wr) * wc + windowed[r0 + 1, c0 + 1] * wr * wc)
                np.testing.assert_allclose(image, expected, atol=1e-5, err_msg=row["nodule_id"])
                checked += 1
    assert checked > 10


def _disc(row, pylidc):
    """(crop centre, crop side, drawn radius) of a cohort nodule, from pylidc's contour points."""
    points = np.vstack([pylidc.query(pylidc.Annotation).filter(pylidc.Annotation.id == a).one().contours_matrix
                        for a in row["annotation_ids"]])
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    side = 1.25 * float((high - low).max() + 1)
    return ((low[0] + high[0]) / 2, (low[1] + high[1]) / 2), side, max(side / 1.25 / 4, 1.5)


def test_only_the_slices_a_nodule_spans_are_read_and_headers_only_once(dicom_root, cohort, monkeypatch):
    row = _nodules(cohort, (1,))[2]
    source = CtSource(dicom_root)
    source.render_nodule(row, SIZE)  # builds the header index
    reads = []
    real = pydicom.dcmread
    monkeypatch.setattr(pydicom, "dcmread", lambda path, **kw: reads.append(kw) or real(path, **kw))
    source.render_nodule(row, SIZE)
    # This scan is in the study/series layout, so finding it reads no header either.
    assert len(reads) == len(row["slices"]) and not any(kw.get("stop_before_pixels") for kw in reads)


def test_the_dicom_root_comes_from_the_argument_then_the_environment_then_pylidcrc(tmp_path, monkeypatch):
    for name in ("arg", "env", "rc"):
        (tmp_path / name).mkdir()
    with pytest.raises(SourceError, match="--dicom-root"):
        find_dicom_root()
    (tmp_path / "home" / ".pylidcrc").write_text(f"[dicom]\npath = {tmp_path / 'rc'}\n")
    assert find_dicom_root() == tmp_path / "rc"
    monkeypatch.setenv(DICOM_ROOT_ENV, str(tmp_path / "env"))
    assert find_dicom_root() == tmp_path / "env"
    assert find_dicom_root(tmp_path / "arg") == tmp_path / "arg"
    with pytest.raises(SourceError, match="is not a folder"):
        make_source("ct", dicom_root=tmp_path / "absent")


def test_missing_scans_are_listed_together_or_left_out_on_request(dicom_root, cohort):
    table = cohort.table
    present = table[table["scan_id"].isin(SCANS)]
    absent = table[table["patient_id"].isin(["LIDC-IDRI-0003", "LIDC-IDRI-0005"])]
    assert len(absent)
    small = dataclasses.replace(cohort, table=table.loc[sorted([*present.index, *absent.index])])
    with pytest.raises(MissingScansError) as error:
        load_patches(small, CtSource(dicom_root), size=16, progress=False, workers=1)
    assert "LIDC-IDRI-0003, LIDC-IDRI-0005" in str(error.value) and "--allow-missing" in str(error.value)
    patches = load_patches(small, CtSource(dicom_root), size=16, progress=False, workers=1, allow_missing=True)
    assert sorted(set(patches.nodule_ids)) == sorted(present["nodule_id"])
    assert sorted(patches.missing) == sorted(absent["nodule_id"])


def test_a_missing_file_is_an_error_naming_the_scan(dicom_root, cohort, tmp_path):
    root, folder = _copy_series(dicom_root, tmp_path, 936, cohort)
    row = _nodules(cohort, (936,))[0]
    source = CtSource(root)
    source.render_nodule(row, SIZE)
    sorted(folder.glob("*.dcm"))[1].unlink()
    with pytest.raises(DicomSeriesError, match=f"{row['patient_id']}.*no DICOM file at z"):
        source.render_nodule(row, SIZE)


@pytest.mark.parametrize("damage", ["garbage", "truncated pixels"])
def test_a_corrupt_file_is_an_error_naming_the_scan(dicom_root, cohort, tmp_path, damage):
    root, folder = _copy_series(dicom_root, tmp_path, 936, cohort)
    row = _nodules(cohort, (936,))[0]
    victim = sorted(folder.glob("*.dcm"))[0]
    data = victim.read_bytes()
    victim.write_bytes(b"\x00" * 50 + b"not a dicom file" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DicomSeriesError, match=f"{row['patient_id']}.*cannot read"):
        CtSource(root).render_nodule(row, SIZE)


def test_a_series_with_a_slice_gap_is_an_error_naming_the_scan(cohort, tmp_path):
    row = _nodules(cohort, (936,))[0]
    nodules = cohort.table[cohort.table["scan_id"] == 936]
    write_series(936, nodules, tmp_path / "gap", "uids", slices=set(row["slices"]) - {row["slices"][1]})
    with pytest.raises(DicomSeriesError, match=f"{row['patient_id']}.*slice {row['slices'][1]}.*gap"):
        CtSource(tmp_path / "gap").render_nodule(row, SIZE)


def test_volumes_hold_the_blob_at_the_centre_over_the_nodules_slices(dicom_root, cohort):
    """The ct cube reads every slice it reaches, windowed like the 2D patches; the blob written on the
    nodule's slices sits at the cube's centre and spans their z range in mm, and the background changes
    along z as the slices do."""
    source = CtSource(dicom_root)
    for row in _nodules(cohort, (698, 1)):
        volume = source.render_volume(row, 32, 1.0)
        assert volume.shape == (32, 32, 32) and volume.dtype == np.float32
        assert (volume[15:17, 15:17, 15:17] > 0.95).all(), row["nodule_id"]  # 150 HU: the window's top
        blob = np.argwhere(volume > 0.95)
        centre = (blob.min(axis=0) + blob.max(axis=0)) / 2
        assert np.abs(centre - 15.5).max() <= 2.5
        assert not np.allclose(volume[0, 0, 0], volume[-1, 0, 0])  # background HU follows the slice index
        z = nodule_geometry(row).slice_z
        assert abs(int(np.ptp(blob[:, 0])) - (max(z) - min(z))) <= 2, row["nodule_id"]


def test_a_volume_needing_a_slice_missing_from_the_download_names_the_gap(dicom_root, cohort):
    source = CtSource(dicom_root)
    row = _nodules(cohort, (936,))[0]  # only the nodules' own slices were written for this scan
    with pytest.raises(DicomSeriesError, match="gap"):
        source.render_volume(row, 32, 1.0)
