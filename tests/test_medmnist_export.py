"""`lidcbench export medmnist`: NoduleMNIST3D's layout, on the frozen patient-grouped folds, with a sidecar
that says which fold went where and which nodule each row is."""
import hashlib
import json

import numpy as np
import pytest

from lidcbench.cli import main
from lidcbench.errors import PatchesError
from lidcbench.patches.medmnist_export import export_medmnist, split_folds
from lidcbench.patches.volume_cache import load_volumes
from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.folds import load_folds
from lidcbench.protocol.rules import Protocol

SMALL = ["--diameter-min", "20"]  # ~150 nodules


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_split_puts_each_fold_on_one_side():
    assert split_folds(0, 5) == {"train": [2, 3, 4], "val": [1], "test": [0]}
    assert split_folds(4, 5) == {"train": [1, 2, 3], "val": [0], "test": [4]}
    with pytest.raises(PatchesError, match="folds 0-4"):
        split_folds(5, 5)


def test_the_export_has_medmnists_layout_and_the_sidecar_names_every_row(isolated_cache):
    out = isolated_cache / "nodulemnist3d_lidcbench.npz"
    assert main(["export", "medmnist", "--size", "28", "--out", str(out), *SMALL]) == 0
    data = np.load(out)
    assert sorted(data.files) == sorted(f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels"))
    sidecar = json.loads(out.with_suffix(".json").read_text())
    cohort = load_cohort(Protocol(diameter_min_mm=20))
    table = cohort.table.set_index("nodule_id")
    assert sidecar["protocol_hash"] == cohort.protocol.hash and sidecar["folds"]["test"] == [0]
    assert sidecar["npz_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    patients = {}
    for split in ("train", "val", "test"):
        images, labels, ids = data[f"{split}_images"], data[f"{split}_labels"], sidecar["nodule_ids"][split]
        assert images.dtype == np.uint8 and images.shape == (len(ids), 28, 28, 28)
        assert labels.dtype == np.uint8 and labels.shape == (len(ids), 1)
        assert labels[:, 0].tolist() == table.loc[ids, "label"].tolist()
        patients[split] = set(table.loc[ids, "patient_id"])
    assert not (patients["train"] & patients["test"]) and not (patients["val"] & patients["test"])
    assert not (patients["train"] & patients["val"])
    assert sum(len(v) for v in sidecar["nodule_ids"].values()) == len(cohort.table)
    cubes = load_volumes(cohort, size=28, progress=False)
    first = sidecar["nodule_ids"]["test"][0]
    stored = np.asarray(cubes.select([first]).images[0], dtype=np.float32)
    assert np.abs(data["test_images"][0] / 255.0 - stored).max() <= 0.5 / 255 + 1e-6


def test_a_size_medmnist_does_not_have_is_refused(isolated_cache):
    cohort = load_cohort(Protocol(diameter_min_mm=20))
    with pytest.raises(PatchesError, match="28 or 64"):
        export_medmnist(cohort, load_folds(), 32, isolated_cache / "x.npz", progress=False)
    with pytest.raises(PatchesError, match=".npz"):
        export_medmnist(cohort, load_folds(), 28, isolated_cache / "x.zip", progress=False)
