"""The medmnist source: a volume method on a NoduleMNIST3D-layout file's own split, scored by MedMNIST's
ACC and AUC and by ours. The file here is synthetic (nothing is downloaded)."""
import hashlib
import json

import numpy as np
import pytest

from lidcbench.cli import main
from lidcbench.errors import RecordError
from lidcbench.reports import medmnist_paper
from lidcbench.reports.medmnist_page import medmnist_markdown, read_medmnist_records
from lidcbench.running.medmnist import medmnist_scores

SIZE = 28


def _cubes(labels, rng):
    grid = np.indices((SIZE,) * 3) - (SIZE - 1) / 2
    radius = np.sqrt((grid ** 2).sum(axis=0))
    cubes = np.empty((len(labels), SIZE, SIZE, SIZE), dtype=np.uint8)
    for i, label in enumerate(labels):
        size = rng.uniform(5, 9) if label else rng.uniform(2, 6)  # malignant nodules run larger
        cube = 85 + 7 * rng.standard_normal((SIZE,) * 3)
        cube[radius <= size] = 235
        cubes[i] = np.clip(cube, 0, 255)
    return cubes


@pytest.fixture
def npz(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 60), ("val", 10), ("test", 40)):
        labels = np.arange(n) % 2
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = _cubes(labels, rng), labels.astype(np.uint8)[:, None]
    path = tmp_path / "nodulemnist3d.npz"
    np.savez_compressed(path, **arrays)
    return path


def test_a_volume_method_runs_on_the_files_own_split_and_both_scorers_score_it(npz, tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["run", "shape3d", "--source", "medmnist", "--medmnist-npz", str(npz), "--out", str(out)]) == 0
    (path,) = (out / "medmnist").glob("shape3d-*-seed0.json")
    record = json.loads(path.read_text())
    assert record["npz"]["test"] == {"n": 40, "malignant": 20} and record["npz"]["size"] == SIZE
    assert record["metrics"]["medmnist"]["auc"] == pytest.approx(record["metrics"]["lidcbench"]["auc"])
    assert record["metrics"]["medmnist"]["auc"] > 0.85  # size separates these cubes
    assert record["isolation"] in ("wall", "tripwire") and "MedMNIST ACC" in capsys.readouterr().out


def test_a_file_in_another_layout_or_a_2d_method_is_a_one_line_error(npz, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, train_images=np.zeros((2, 4, 4, 4), np.uint8))
    assert main(["run", "shape3d", "--source", "medmnist", "--medmnist-npz", str(bad)]) == 2
    assert "lacks train_labels" in capsys.readouterr().err
    assert main(["run", "tiny", "--source", "medmnist", "--medmnist-npz", str(npz)]) == 2
    assert "takes 2D slices" in capsys.readouterr().err
    assert main(["run", "shape3d", "--source", "medmnist"]) == 2


def test_medmnist_acc_counts_a_score_of_exactly_half_as_benign_where_ours_counts_it_malignant():
    labels, scores = np.array([0, 1, 1, 0]), np.array([0.5, 0.9, 0.2, 0.1])
    scored = medmnist_scores(labels, scores)
    assert scored["medmnist"]["acc"] == 0.75 and scored["lidcbench"]["accuracy"] == 0.5


def test_the_page_shows_each_record_beside_medmnists_reported_baselines(npz, tmp_path):
    out = tmp_path / "results"
    assert main(["run", "shape3d", "--source", "medmnist", "--medmnist-npz", str(npz), "--out", str(out)]) == 0
    (row,) = read_medmnist_records(out)
    page = medmnist_markdown([row], "<!-- mark -->")
    theirs, ours = row.record["metrics"]["medmnist"], row.record["metrics"]["lidcbench"]
    (line,) = [line for line in page.splitlines() if line.startswith("| shape3d |")]
    assert f"| {theirs['acc']:.3f} | {theirs['auc']:.3f} |" in line and f"{ours['auc']:.3f} [" in line
    assert "| 60 (30) | 40 (20) |" in line and "the file's own" in line
    assert page.count(f"({medmnist_paper.MARK})") == len(medmnist_paper.NODULEMNIST3D) > 0


def test_a_sidecar_naming_the_files_bytes_makes_the_split_the_protocols(npz, tmp_path):
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    sidecar = {"npz_sha256": digest, "protocol_hash": "10894036eb", "folds_version": 1,
               "folds": {"train": [2, 3, 4], "val": [1], "test": [0]}}
    npz.with_suffix(".json").write_text(json.dumps(sidecar))
    out = tmp_path / "results"
    assert main(["run", "shape3d", "--source", "medmnist", "--medmnist-npz", str(npz), "--out", str(out)]) == 0
    (row,) = read_medmnist_records(out)
    assert row.record["split"]["kind"] == "lidcbench-export" and "patient-grouped" in row.split
    npz.with_suffix(".json").write_text(json.dumps({**sidecar, "npz_sha256": "0" * 64}))  # another file's sidecar
    assert main(["run", "shape3d", "--source", "medmnist", "--medmnist-npz", str(npz), "--out", str(out)]) == 0
    (row,) = read_medmnist_records(out)
    assert row.record["split"]["kind"] == "file"


def test_an_unreadable_record_is_named(tmp_path):
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "x.json").write_text('{"schema": "other"}')
    with pytest.raises(RecordError, match="x.json"):
        read_medmnist_records(tmp_path)
