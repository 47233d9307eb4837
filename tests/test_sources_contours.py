import json

import numpy as np
import pytest

from lidcbench.errors import SourceError
from lidcbench.patches.sources import make_source
from lidcbench.patches.sources.contours import ContoursSource
from lidcbench.protocol.attributes import RATINGS
from lidcbench.protocol.geometry import CROP_FACTOR

SIZE = 64


@pytest.fixture(scope="module")
def rows(cohort):
    table = cohort.table
    return [table.iloc[i].to_dict() for i in (0, 7, 300, 1200)]


def test_each_nodule_gets_one_windowed_patch_per_slice_it_spans(rows):
    source = ContoursSource()
    for row in rows:
        images, slices = source.render_nodule(row, SIZE)
        assert images.dtype == np.float32 and images.shape == (len(row["slices"]), SIZE, SIZE)
        assert slices.tolist() == list(row["slices"])
        assert images.min() >= 0 and images.max() <= 1


def test_rendering_is_deterministic_per_nodule_and_differs_between_nodules(rows):
    first, _ = ContoursSource().render_nodule(rows[0], SIZE)
    again, _ = ContoursSource().render_nodule(rows[0], SIZE)
    other, _ = ContoursSource().render_nodule(rows[1], SIZE)
    assert np.array_equal(first, again)
    assert not np.array_equal(first[0], other[0])


def test_no_rating_or_label_reaches_a_pixel(rows):
    source = ContoursSource()
    for row in rows:
        changed = dict(row)
        for rating in RATINGS:
            readers = row[f"readers_{rating.name}"]
            changed[f"readers_{rating.name}"] = tuple(rating.high + rating.low - r for r in readers)
            changed[rating.name] = rating.high + rating.low - row[rating.name]
            changed[f"target_{rating.name}"] = 1 - row[f"target_{rating.name}"]
        changed["label"] = 1 - row["label"]
        assert np.array_equal(source.render_nodule(row, SIZE)[0], source.render_nodule(changed, SIZE)[0])
        geometry_only = {k: row[k] for k in ("nodule_id", "scan_id", "annotation_ids", "slices")}
        assert np.array_equal(source.render_nodule(row, SIZE)[0], source.render_nodule(geometry_only, SIZE)[0])


def test_nodule_tissue_lies_inside_the_crop_clear_of_its_border(rows):
    source = ContoursSource()
    margin = int(SIZE * (1 - 1 / CROP_FACTOR) / 2) - 2  # the crop's 12.5% border, less the edge blur
    for row in rows:
        images, _ = source.render_nodule(row, SIZE)
        tissue = images > 0.75  # soft tissue under the lung window; parenchyma sits near 0.33
        assert tissue.any()
        assert not tissue[:, :margin].any() and not tissue[:, -margin:].any()
        assert not tissue[:, :, :margin].any() and not tissue[:, :, -margin:].any()


def test_settings_are_json_and_name_the_rendering_version():
    settings = ContoursSource().settings()
    assert json.loads(json.dumps(settings)) == settings
    assert settings["version"] >= 1 and "window_hu" in settings


def test_unknown_source_name_suggests_the_closest():
    with pytest.raises(SourceError, match="Did you mean 'contours'"):
        make_source("contour")
    with pytest.raises(SourceError, match="does not take"):
        make_source("contours", dicom_root="/somewhere")
