import json
import os
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from synthetic_nodules import nodule_table, slice_predictions

import lidcbench
from lidcbench.errors import RecordError
from lidcbench.protocol.rules import Protocol
from lidcbench.results.records import (
    SCHEMA_VERSION,
    new_record,
    read_record,
    read_records,
    record_path,
    setting_key,
    write_record,
)
from lidcbench.scoring.score import nodule_predictions, score_fold


def make_record(method="tiny", fold=0, seed=0, source_settings=None, params=None, signal=1.0):
    table = nodule_table(30, seed=fold, prefix=f"F{fold}-")
    predictions = slice_predictions(table, seed=seed, signal=signal)
    return new_record(
        method=method, fold=fold, seed=seed, profile="default",
        method_params={"alpha": 0.1, "layers": (2, 3)} if params is None else params,
        source="contours", source_settings=source_settings or {"size": 64}, protocol=Protocol(), folds_version=1,
        nodules=nodule_predictions(predictions, table), metrics=score_fold(predictions, table, table),
        device="cpu", wall_time_s=1.5,
    )


def test_a_record_round_trips_through_its_file(tmp_path):
    record = make_record()
    path = write_record(record, tmp_path)
    assert path == record_path(tmp_path, "tiny", 0, 0, setting=record.setting)
    assert path.relative_to(tmp_path).parts == (record.setting, "tiny", "fold0-seed0.json")
    assert read_record(path) == record
    assert read_records(tmp_path) == [record]
    assert record.method_params["layers"] == [2, 3]  # stored JSON-ready, as it reads back
    frame = record.nodule_frame()
    assert list(frame.columns[:4]) == ["nodule_id", "label", "diameter_mm", "malignancy"] and len(frame) == 30


def test_provenance_says_how_the_record_was_made():
    provenance = make_record().provenance
    assert provenance.lidcbench_version == lidcbench.__version__
    assert provenance.packages["numpy"] == np.__version__
    assert provenance.device == "cpu" and provenance.wall_time_s == 1.5
    assert datetime.fromisoformat(provenance.timestamp).tzinfo is not None
    # This checkout is a git checkout: the record names its commit and whether files were changed.
    here = Path(lidcbench.__file__).resolve().parent
    head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not running from a git checkout")
    status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, check=True).stdout
    assert provenance.git_commit == head.stdout.strip()
    assert provenance.git_dirty == bool(status.strip())


def test_a_resumed_record_says_so_and_records_made_before_it_was_kept_still_load(tmp_path):
    from dataclasses import replace

    record = make_record()
    resumed = replace(record, provenance=replace(record.provenance, resumed_from_epoch=3))
    assert read_record(write_record(resumed, tmp_path)).provenance.resumed_from_epoch == 3
    document = json.loads(write_record(record, tmp_path).read_text())
    assert document["provenance"].pop("resumed_from_epoch") is None  # a job that ran straight through
    old = tmp_path / record.setting / "tiny" / "fold0-seed0.json"
    old.write_text(json.dumps(document))
    assert read_record(old).provenance.resumed_from_epoch is None


def test_a_records_warnings_round_trip_and_records_made_before_they_were_kept_read_as_none(tmp_path):
    from dataclasses import replace

    record = make_record()
    warned = replace(record, provenance=replace(record.provenance, warnings=["Objective did not converge"]))
    assert read_record(write_record(warned, tmp_path)).provenance.warnings == ["Objective did not converge"]
    document = json.loads(write_record(record, tmp_path).read_text())
    document["provenance"].pop("warnings")
    old = tmp_path / record.setting / "tiny" / "fold0-seed0.json"
    old.write_text(json.dumps(document))
    assert read_record(old).provenance.warnings is None


def test_provenance_without_git_says_none(monkeypatch):
    from lidcbench.results import records

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    records._git_commit.cache_clear()
    monkeypatch.setattr(records.subprocess, "run", no_git)
    try:
        assert records._git_commit() == (None, None)
    finally:
        records._git_commit.cache_clear()


def test_settings_name_their_own_folder():
    assert setting_key("abc", "ct", {"size": 64}, "default") != setting_key("abc", "ct", {"size": 32}, "default")
    assert setting_key("abc", "ct", {"a": 1, "b": 2}, "p") == setting_key("abc", "ct", {"b": 2, "a": 1}, "p")
    with pytest.raises(RecordError, match="cannot name a results folder"):
        record_path("results", "../escape", 0, 0, setting="s")


def test_an_interrupted_write_leaves_no_record(tmp_path, monkeypatch):
    record = make_record()

    def crash(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_record(record, tmp_path)
    monkeypatch.undo()
    folder = record_path(tmp_path, "tiny", 0, 0, setting=record.setting).parent
    assert list(folder.iterdir()) == []  # neither the record nor the temporary file
    # A temporary file left by a killed process is never read as a record.
    (folder / ".fold0-seed0.json.123.abcd.tmp").write_text('{"half": ')
    assert read_records(tmp_path) == []


def test_unreadable_records_are_all_named_in_one_error(tmp_path):
    good = write_record(make_record(fold=0), tmp_path)
    truncated = write_record(make_record(fold=1), tmp_path)
    truncated.write_text(truncated.read_text()[:200])
    old_schema = write_record(make_record(fold=2), tmp_path)
    document = json.loads(old_schema.read_text())
    old_schema.write_text(json.dumps({**document, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(RecordError) as error:
        read_records(tmp_path)
    message = str(error.value)
    assert "2 unreadable" in message and str(truncated) in message and str(old_schema) in message
    assert "schema version" in message and str(good) not in message


def test_a_record_in_the_wrong_place_is_an_error(tmp_path):
    path = write_record(make_record(fold=0), tmp_path)
    moved = path.with_name("fold3-seed0.json")
    path.rename(moved)
    with pytest.raises(RecordError, match="belongs at"):
        read_records(tmp_path)
