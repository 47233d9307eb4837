"""`lidcbench run` over a grid of (method, fold, seed): local workers, bad input, resume after a kill."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lidcbench.cli import main
from lidcbench.results.records import read_records
from lidcbench.running.executors.grid import parse_seeds

SMALL = ["--diameter-min", "20"]  # ~150 nodules: the whole path in seconds
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps captured output at 80 columns otherwise
    return tmp_path


def _nodules(records):
    return {(r.method, r.fold, r.seed): r.nodules for r in records}


def test_seed_lists_and_ranges():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5,0") == [0, 3, 4, 5]
    assert parse_seeds(" 2 ") == [2]


def test_slurm_logs_go_under_the_results_folder_unless_told_otherwise(tmp_path):
    from lidcbench.cli import build_parser
    from lidcbench.cli.run import slurm_options

    run = ["run", "tiny", "--executor", "slurm", "--out", str(tmp_path / "res")]
    assert slurm_options(build_parser().parse_args(run)).logs == tmp_path / "res" / "slurm-logs"
    chosen = build_parser().parse_args([*run, "--slurm-logs", str(tmp_path / "logs")])
    assert slurm_options(chosen).logs == tmp_path / "logs"


def test_more_jobs_than_cores_is_a_warning_that_says_when_jobs_help(monkeypatch):
    from lidcbench.running.executors import local

    monkeypatch.setattr(local, "available_cores", lambda: 2)
    assert local.oversubscription(1) is None and local.oversubscription(2) is None
    warning = local.oversubscription(3)
    assert warning.startswith("--jobs 3 x 1 thread(s) each is more than the 2 core(s) here") and "--gpus" in warning


def test_cpu_workers_that_fit_the_cores_are_told_they_share_them(monkeypatch):
    from lidcbench.running.executors import local

    monkeypatch.setattr(local, "available_cores", lambda: 2)
    assert local.cpu_sharing_note(2, []).startswith("--jobs 2 without GPUs: each job gets 1 of the 2 core(s)")
    assert local.cpu_sharing_note(2, ["0", "1"]) is None and local.cpu_sharing_note(1, []) is None
    assert local.cpu_sharing_note(3, []) is None  # more jobs than cores: the warning says it


def test_a_grid_in_two_workers_records_what_one_process_records(env, capsys, monkeypatch):
    """tiny-net trains by epochs: piped, each epoch of each job is a line, forwarded from the guarded child."""
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "on")
    serial, parallel = env / "serial", env / "parallel"
    grid = ["tiny-net,diameter", "--folds", "0", "--seeds", "0,1", *SMALL]
    assert main(["run", *grid, "--out", str(serial)]) == 0
    # diameter's predictions do not depend on the seed (it declares so): it runs once, for seed 0.
    printed = " ".join(capsys.readouterr().out.split())
    assert "3 job(s) (2 method(s) x 1 fold(s) x 2 seed(s), diameter with seed 0 only): 0 recorded, 3 to run" in printed
    assert "diameter: deterministic: one run stands for every seed" in printed
    assert main(["run", *grid, "--out", str(parallel), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "2 local worker(s)" in printed and printed.count("done ") == 3
    for seed in (0, 1):
        epochs = [line.split(": epochs ")[1].split(",")[0] for line in printed.splitlines()
                  if line.startswith(f"tiny-net fold 0 seed {seed}: epochs ")]
        assert epochs == ["1/4", "2/4", "3/4", "4/4"], printed
    records = read_records(parallel)
    assert sorted((r.method, r.fold, r.seed) for r in records) == [
        ("diameter", 0, 0), ("tiny-net", 0, 0), ("tiny-net", 0, 1)]
    assert _nodules(records) == _nodules(read_records(serial))

    assert main(["run", *grid, "--out", str(parallel), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "3 recorded, 0 to run" in printed and "3 of 3 jobs already recorded" in printed and "done " not in printed


def test_workers_get_their_share_of_the_cores_and_their_gpu_round_robin():
    """Each worker's torch thread count and CUDA_VISIBLE_DEVICES, read back inside the worker."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lidcbench.running.executors import worker

    context = multiprocessing.get_context("spawn")
    counter, events = context.Value("i", 0), context.Queue()
    with ProcessPoolExecutor(2, mp_context=context, initializer=worker.initialise,
                             initargs=(counter, ["3", "5"], 1, events)) as pool:
        seen = list(pool.map(worker.limits, range(6)))
    assert {s["threads"] for s in seen} == {1} and {s["omp"] for s in seen} == {"1"}
    assert {s["cuda_visible_devices"] for s in seen} <= {"3", "5"}
    assert counter.value == 2  # two workers took slots 0 and 1: GPUs 3 and 5


@pytest.mark.parametrize("arguments, message", [
    (["--seeds", "0,x"], "'x' is not a seed"),
    (["--jobs", "0"], "--jobs 0: give the number of fold jobs"),
    (["--gpus", "99"], "--gpus names GPU 99, but torch sees"),
    (["--gpus", "a"], "give GPU numbers"),
    (["--checkpoint-every", "0"], "--checkpoint-every 0"),
    (["--checkpoint-minutes", "0"], "--checkpoint-minutes 0.0: give a number of minutes above 0"),
    (["--executor", "slurm", "--gpus", "0"], "--gpus is for --executor local"),
])
def test_bad_grid_input_is_one_named_error_before_any_job(env, capsys, arguments, message):
    out = env / "results"
    assert main(["run", "tiny", "--folds", "0", "--out", str(out), *arguments, *SMALL]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1
    assert "done " not in captured.out and not list(out.rglob("*.json"))


def test_an_unwritable_results_folder_is_named_before_any_job(env, capsys):
    blocker = env / "a-file"
    blocker.write_text("")
    assert main(["run", "tiny", "--folds", "0", "--out", str(blocker / "results"), *SMALL]) == 2
    err = capsys.readouterr().err
    assert f"results folder {blocker / 'results'} is not writable" in err and err.count("\n") == 1


def test_slurm_without_sbatch_or_submitit_is_a_named_error(env, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(env))  # no sbatch here
    assert main(["run", "tiny", "--folds", "0", "--executor", "slurm", "--out", str(env / "r"), *SMALL]) == 2
    assert "no SLURM is reachable from here (no `sbatch` on PATH)" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit now fails as if not installed
    assert main(["run", "tiny", "--folds", "0", "--executor", "slurm", "--out", str(env / "r"), *SMALL]) == 2
    assert 'pip install -e ".[slurm]"' in capsys.readouterr().err


def _checkpoint_epoch(path: Path) -> int:
    import torch

    try:
        return torch.load(path, weights_only=False)["epoch"]
    except (OSError, EOFError, RuntimeError):
        return 0


def test_a_killed_run_resumes_from_its_checkpoint_and_writes_the_uninterrupted_record(env):
    """Kill the process after epoch 2 of 4 (SIGKILL: no cleanup), rerun, compare with a run never stopped."""
    job = ["run", "tiny-net", "--folds", "0", "--set", "epochs=4", "--set", "epoch_pause=1.5",
           "--checkpoint-every", "1", *SMALL]
    command = [sys.executable, "-m", "lidcbench", *job]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert main([*job, "--out", str(env / "straight")]) == 0

    out = env / "resumed"
    first = subprocess.Popen([*command, "--out", str(out)], env=environment, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    checkpoint = None
    while time.monotonic() < deadline and first.poll() is None:
        found = list((env / "cache" / "checkpoints").rglob("fold0-seed0-*/checkpoint"))
        if found and _checkpoint_epoch(found[0]) >= 2:
            checkpoint = found[0]
            break
        time.sleep(0.2)
    assert checkpoint is not None, first.communicate()[1]
    # A second invocation of the same job meanwhile does not share its checkpoint: it says so and stops.
    first.send_signal(signal.SIGSTOP)  # holding its lock, however long the second takes to start
    meanwhile = subprocess.run([*command, "--out", str(out)], env=environment, capture_output=True, text=True,
                               timeout=600, check=False)
    assert meanwhile.returncode == 2, meanwhile.stderr
    assert meanwhile.stderr.count("\n") == 1 and "tiny-net fold 0 seed 0 is being run by another lidcbench (process " \
        f"{first.pid} on " in meanwhile.stderr
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not list(out.rglob("*.json"))

    second = subprocess.run([*command, "--out", str(out)], env=environment, capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr
    assert "resumed from" in second.stderr and "after epoch" in second.stderr
    assert not checkpoint.exists()  # deleted once the record was written
    assert _nodules(read_records(out)) == _nodules(read_records(env / "straight"))
    (resumed,), (straight,) = read_records(out), read_records(env / "straight")
    assert straight.provenance.resumed_from_epoch is None
    assert resumed.provenance.resumed_from_epoch >= 2
    # The seconds of both parts: at least the 1.5 s pause of each of the 4 epochs.
    assert resumed.provenance.wall_time_s >= 4 * 1.5


def test_two_processes_started_together_build_the_patch_cache_once(env):
    code = ("from lidcbench.patches.cache import load_patches; from lidcbench.protocol.cohort import load_cohort; "
            "from lidcbench.protocol.rules import Protocol; "
            "load_patches(load_cohort(Protocol(diameter_min_mm=21)), 'contours', size=24)")
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    processes = [subprocess.Popen([sys.executable, "-c", code], env=environment, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    said = "\n".join(outputs)
    assert said.count("built ") == 1 and said.count("waiting for another process building") == 1
