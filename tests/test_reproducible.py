"""The same command, seed and thread count gives the same record, timings apart."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ("wall_time_s", "timestamp")
SMALL_CNN = ["--set", "backbone=resnet10t", "--set", "pretrained=none", "--set", "patch_size=32",
             "--set", "crop=28", "--set", "epochs=1", "--set", "batch_size=8", "--set", "max_slices_per_nodule=1"]


def _run_twice(tmp_path: Path, arguments: list[str], threads: int) -> list[dict]:
    """Two separate processes, as a user repeating the command would."""
    env = {**os.environ, "LIDCBENCH_CACHE": str(tmp_path / "cache"), "LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    documents = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        done = subprocess.run([sys.executable, "-m", "lidcbench", "run", *arguments, "--out", str(out)],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stderr
        (path,) = out.rglob("fold*-seed*.json")
        documents.append(json.loads(path.read_text()))
    return documents


def _without_timings(document: dict) -> dict:
    provenance = {k: v for k, v in document["provenance"].items() if k not in TIMINGS}
    return {**document, "provenance": provenance}


@pytest.mark.parametrize("arguments", [
    ["tiny", "--folds", "1", "--diameter-min", "20"],
    ["cnn", "--folds", "0", "--device", "cpu", "--diameter-min", "25", *SMALL_CNN],
], ids=["tiny", "cnn-one-epoch"])
def test_the_same_command_gives_the_same_record_apart_from_timings(tmp_path, arguments):
    first, second = _run_twice(tmp_path, arguments, threads=2)
    assert first["provenance"]["threads"] == 2
    assert first["provenance"]["deterministic_algorithms"] in (True, False)
    assert _without_timings(first) == _without_timings(second)
    assert first["nodules"]["rows"], "the record holds no predictions"
