"""`lidcbench run` end to end with the tiny method on a small protocol (large nodules only)."""

import re

import pytest

from lidcbench.cli import main
from lidcbench.results.records import read_records

SMALL = ["--diameter-min", "20"]  # ~150 nodules: the whole path in seconds


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    return tmp_path


def test_run_writes_one_scored_record_per_fold_and_resumes(env, capsys):
    out = env / "results"
    assert main(["run", "tiny", "--folds", "0,2", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "tiny" in printed and "contours" in printed and "profile default" in printed
    records = read_records(out)
    assert sorted(r.fold for r in records) == [0, 2]
    for record in records:
        assert record.source == "contours" and record.protocol["diameter_min_mm"] == 20
        assert record.metrics["classification"]["auc"] is not None
        assert record.provenance.wall_time_s > 0 and record.method_params["seed"] == 0
    paths = sorted(out.rglob("*.json"))
    before = [p.stat().st_mtime_ns for p in paths]
    assert main(["run", "tiny", "--folds", "0,2", "--out", str(out), *SMALL]) == 0
    assert "2 of 2 folds already recorded" in " ".join(capsys.readouterr().out.split())
    assert [p.stat().st_mtime_ns for p in paths] == before
    assert main(["run", "tiny", "--folds", "0,1", "--out", str(out), *SMALL]) == 0
    assert "fold 0: record exists, skipped" in capsys.readouterr().out
    assert main(["run", "tiny", "--folds", "0", "--out", str(out), "--force", *SMALL]) == 0
    assert sorted(out.rglob("*.json"))[0].stat().st_mtime_ns != before[0]


def epoch_lines(printed: str, label: str) -> list[str]:
    return [line for line in printed.splitlines() if line.startswith(f"{label}: epochs ")]


def test_a_piped_run_prints_a_line_per_epoch_from_the_guarded_child(env, capsys, monkeypatch):
    """capsys is not a terminal: the live view prints each epoch the isolated child reports."""
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "on")
    assert main(["run", "tiny-net", "--folds", "0", "--set", "epochs=3", "--out", str(env / "results"), *SMALL]) == 0
    lines = epoch_lines(capsys.readouterr().out, "tiny-net fold 0 seed 0")
    assert [re.search(r"epochs (\d+/\d+)", line)[1] for line in lines] == ["1/3", "2/3", "3/3"], lines
    for line in lines:
        assert re.search(r"loss bce \d\.\d+, \d+ images/s", line), line
    assert all("ETA" in line for line in lines[:-1]) and "ETA" not in lines[-1]


def test_an_interruption_between_predict_and_the_write_leaves_no_record(env, monkeypatch):
    # Interrupted after the record's bytes are in a file on disk but before they are renamed into
    # place: a non-atomic write (straight to the record's path) would leave a partial record here.
    import os
    import types

    import lidcbench.results.records as records

    written = []

    def interrupted(descriptor):
        written.extend(p for p in out.rglob("*") if p.is_file())  # the bytes are on disk now
        raise KeyboardInterrupt

    # Only the records module's fsync: the patch cache's writes go on as usual.
    monkeypatch.setattr(records, "os", types.SimpleNamespace(**{**vars(os), "fsync": interrupted}))
    out = env / "results"
    assert main(["run", "tiny", "--folds", "1", "--out", str(out), *SMALL]) == 130
    assert written, "the interruption did not come during the record's write"
    assert not [p for p in out.rglob("*") if p.is_file()]  # neither a record nor its temporary file


def test_bad_run_input_is_a_named_error(env, capsys):
    assert main(["run", "tinny", "--folds", "0", *SMALL]) == 2
    assert "Did you mean 'tiny'" in capsys.readouterr().err
    assert main(["run", "tiny", "--folds", "7", *SMALL]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["run", "tiny", "--folds", "0", "--profile", "paper", *SMALL]) == 2
    assert "no profile 'paper'" in capsys.readouterr().err
    assert main(["run", "tiny", "--folds", "0", "--set", "alpah=2", *SMALL]) == 2
    assert "takes no parameter(s) alpah" in capsys.readouterr().err


def test_records_regenerate_the_leaderboard(env):
    out, boards = env / "results", env / "boards"
    assert main(["run", "diameter", "--folds", "all", "--out", str(out), *SMALL]) == 0
    assert main(["leaderboard", "--results", str(out), "--out", str(boards)]) == 0
    text = "\n".join(p.read_text() for p in sorted(boards.glob("*.md")))
    assert "diameter" in text and "reported, not reproduced here" in text


def test_ctrl_c_says_which_folds_were_written_and_how_to_go_on(env, monkeypatch, capsys):
    from lidcbench.testing.tiny import TinyMethod

    original, calls = TinyMethod.predict, []

    def interrupted_on_the_second_fold(self, test):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, test)

    monkeypatch.setattr(TinyMethod, "predict", interrupted_on_the_second_fold)
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "off")  # the patched predict lives in this process only
    out = env / "results"
    assert main(["run", "tiny", "--folds", "0,3,4", "--out", str(out), *SMALL]) == 130
    printed = " ".join(capsys.readouterr().out.split())
    assert "interrupted: fold(s) 0 recorded; fold(s) 3, 4 not finished" in printed
    assert f"Resume with: lidcbench run tiny --out {out} --diameter-min 20 --folds 3,4" in printed
    assert [r.fold for r in read_records(out)] == [0]
    assert "no checkpoint kept for fold 3, fold 4: started afresh by the command" in printed


def test_ctrl_c_after_a_timed_checkpoint_says_where_the_same_command_resumes(env, monkeypatch, capsys):
    """tiny-net with a 1.2 s checkpoint interval on a clock moved only by its 1 s pause after each epoch:
    the first save comes after epoch 2, Ctrl-C right after it; the same command resumes there."""
    import types

    from lidcbench.testing import tinynet
    from lidcbench.training import checkpoints

    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(checkpoints, "_clock", lambda: clock.now)
    monkeypatch.setattr(tinynet, "time", types.SimpleNamespace(sleep=lambda s: setattr(clock, "now", clock.now + s)))
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "off")  # the patched clock lives in this process only
    save = checkpoints._save

    def save_then_stop(*args):
        save(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "_save", save_then_stop)
    out = env / "results"
    command = ["run", "tiny-net", "--folds", "0", "--set", "epochs=4", "--set", "epoch_pause=1", "--out", str(out),
               "--checkpoint-minutes", "0.02", *SMALL]
    assert main(command) == 130
    printed = " ".join(capsys.readouterr().out.split())
    assert "fold 0: checkpoint kept after epoch 2 (" in printed and "the command resumes it there if" in printed
    monkeypatch.setattr(checkpoints, "_save", save)
    assert main(command) == 0
    (record,) = read_records(out)
    assert record.provenance.resumed_from_epoch == 2
    assert record.provenance.wall_time_s == 4.0  # 2 s before the stop, 2 s after (the clock moves by pauses only)


def test_when_every_fold_is_recorded_run_says_so_and_builds_no_cache(env, capsys):
    out = env / "results"
    assert main(["run", "tiny", "--folds", "0,1", "--out", str(out), *SMALL]) == 0
    capsys.readouterr()
    for path in (env / "cache" / "patches").glob("*"):
        path.unlink()
    assert main(["run", "tiny", "--folds", "0,1", "--out", str(out), *SMALL]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "2 of 2 folds already recorded in" in printed and "nothing to train; --force to retrain" in printed
    assert not list((env / "cache" / "patches").glob("*")), "a patch cache was built for nothing"


def test_an_unwritable_results_folder_and_a_missing_cuda_fail_before_any_work(env, capsys):
    blocker = env / "file"
    blocker.write_text("")
    assert main(["run", "tiny", "--folds", "0", "--out", str(blocker / "results"), *SMALL]) == 2
    assert "is not writable" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["run", "mtmr", "--folds", "0", "--device", "cuda", "--out", str(env / "r"), *SMALL]) == 2
        assert "torch sees no CUDA device" in capsys.readouterr().err
        assert not (env / "cache").exists() or not list((env / "cache").rglob("*.npz*"))


def test_the_source_settings_print_as_one_short_line(env, capsys):
    assert main(["run", "tiny", "--folds", "0", "--out", str(env / "results"), *SMALL]) == 0
    lines = capsys.readouterr().out.splitlines()
    (source,) = [line for line in lines if line.startswith("source ")]
    assert "64-pixel patches, settings" in source and "{" not in source and len(source) < 140


def test_a_record_names_the_test_nodules_left_out_for_missing_scans(env, monkeypatch):
    # As the ct source with --allow-missing hands them over: patches without some nodules, named in missing.
    import dataclasses

    import numpy as np

    import lidcbench.patches.cache as cache
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds
    from lidcbench.protocol.rules import Protocol
    from lidcbench.running.fold import FoldJob, run_fold

    protocol = {"diameter_min_mm": 20.0}
    cohort = load_cohort(Protocol(**protocol))
    _, test = load_folds().split(cohort, 1)
    train, _ = load_folds().split(cohort, 1)
    gone = sorted(test["nodule_id"][:3]) + [train["nodule_id"].iloc[0]]
    real = cache.load_patches

    def with_missing(*args, **kwargs):
        patches = real(*args, **kwargs)
        kept = [n for n in dict.fromkeys(patches.nodule_ids) if n not in gone]
        return dataclasses.replace(patches.select(kept), missing=tuple(gone))

    monkeypatch.setattr(cache, "load_patches", with_missing)
    record, _ = run_fold(FoldJob("tiny", fold=1, protocol=protocol, out_dir=str(env / "results")),
                         show_progress=False)
    assert record.metrics["left_out_missing_scans"] == gone[:3]  # the test fold's only
    scored = set(record.nodule_frame()["nodule_id"])
    assert scored == set(test["nodule_id"]) - set(gone) and not np.isin(gone, list(scored)).any()


def test_a_piped_run_shows_a_methods_warning_as_one_line(env, capfd, monkeypatch):
    """The warning is given in the guarded child; the runner's one-line format goes with it there."""
    from multiprocessing import forkserver

    monkeypatch.setenv("LIDCBENCH_ISOLATION", "on")
    # The child writes to the forkserver's standard error, which is the one of the forkserver's start: one
    # started by an earlier test would write past this test's capture.
    forkserver._forkserver._stop()
    warning = "tiny was asked to warn"
    assert main(["run", "tiny", "--folds", "0", "--set", f"warning={warning}", "--out", str(env / "results"),
                 *SMALL]) == 0
    err = capfd.readouterr().err
    assert f"lidcbench: warning: {warning}\n" in err, err
    assert "UserWarning" not in err and "tiny.py" not in err and "warnings.warn" not in err, err
    # The record keeps what the fit warned, and "How these were made" says it by fold.
    (record,) = read_records(env / "results")
    assert record.provenance.warnings == [warning]
    from lidcbench.reports.regenerate import regenerate

    page = next(p for p in regenerate(env / "results", env / "boards") if p.suffix == ".md").read_text()
    assert f"| fold 0: {warning} |" in page


def test_a_fit_without_warnings_records_none_and_a_repeated_one_once(env, monkeypatch):
    from lidcbench.running.warning_line import KEPT, summary

    monkeypatch.setenv("LIDCBENCH_ISOLATION", "off")
    assert main(["run", "tiny", "--folds", "0", "--out", str(env / "results"), *SMALL]) == 0
    assert read_records(env / "results")[0].provenance.warnings == []
    assert summary(["a", "b", "a"]) == ["a (2 times)", "b"]
    many = summary([str(n) for n in range(KEPT + 3)])
    assert len(many) == KEPT + 1 and many[-1] == "and 3 other distinct warning(s)"
