"""`lidcbench run --executor slurm` against a real SLURM (`sudo bash scripts/slurm-up.sh` starts one here).

Without a reachable SLURM these tests are skipped, saying how to start one;
under CI=true they fail instead, since .ci/run starts the cluster first.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lidcbench.results.records import read_records

pytestmark = pytest.mark.slurm

SMALL = ["--diameter-min", "20"]
ROOT = Path(__file__).resolve().parents[1]
START = "start a single-node SLURM with `sudo bash scripts/slurm-up.sh` (Debian/Ubuntu, as root)"


def _slurm_problem() -> str | None:
    try:
        import submitit  # noqa: F401
    except ImportError:
        return 'submitit is not installed: pip install -e ".[slurm]"'
    if shutil.which("sbatch") is None:
        return f"no SLURM here (no sbatch on PATH); {START}"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return f"the SLURM controller does not answer; {START}"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = _slurm_problem()
    if problem and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the slurm tests, but {problem}")
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # one patch build for the module's jobs


@pytest.fixture
def env(cache, slurm):
    """Jobs run in other processes: everything they need goes through the environment sbatch exports."""
    return {**os.environ, "LIDCBENCH_CACHE": str(cache), "LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "COLUMNS": "200"}


def _lidcbench(arguments, env, cwd, timeout=900):
    return subprocess.run([sys.executable, "-m", "lidcbench", *arguments], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_a_grid_runs_as_a_job_array_and_a_rerun_submits_nothing(env, tmp_path):
    out, logs = tmp_path / "results", tmp_path / "logs"
    grid = ["run", "tiny", "--folds", "0,1", "--seeds", "0,1", "--executor", "slurm", "--out", str(out),
            "--slurm-logs", str(logs), *SMALL]
    done = _lidcbench(grid, env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"submitted SLURM job array \d+ \(4 task\(s\)\)", done.stdout)
    assert done.stdout.count("done tiny") == 4
    records = read_records(out)
    assert sorted((r.fold, r.seed) for r in records) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(r.metrics["classification"]["auc"] is not None for r in records)

    again = _lidcbench(grid, env, tmp_path)
    assert again.returncode == 0 and "4 recorded, 0 to run" in again.stdout and "submitted" not in again.stdout


def _checkpoint_epoch(path: Path) -> int:
    import torch

    try:
        return torch.load(path, weights_only=False)["epoch"]
    except (OSError, EOFError, RuntimeError):
        return 0


def _state(task: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", task, "-o", "%T"], capture_output=True, text=True).stdout


def test_a_requeued_job_resumes_from_its_checkpoint(env, tmp_path, cache):
    """`scontrol requeue` kills the job mid-training (SIGTERM, then SIGKILL); the requeued job resumes and
    writes the record an uninterrupted run writes."""
    out, logs = tmp_path / "results", tmp_path / "logs"
    job = ["run", "tiny-net", "--folds", "0", "--set", "epochs=3", *SMALL]
    straight = _lidcbench([*job, "--out", str(tmp_path / "straight")], env, tmp_path)
    assert straight.returncode == 0, straight.stderr

    submitted = _lidcbench([*job, "--set", "epoch_pause=8", "--checkpoint-every", "1", "--executor", "slurm",
                            "--no-wait", "--out", str(out), "--slurm-logs", str(logs)], env, tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    job_id = re.search(r"submitted SLURM job array (\d+)", submitted.stdout)[1]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        found = list((cache / "checkpoints").rglob("fold0-seed0-*/checkpoint"))
        if found and _checkpoint_epoch(found[0]) >= 1:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no checkpoint within 10 minutes; logs in {logs}")
    tasks = subprocess.run(["squeue", "-h", "-r", "-j", job_id, "-o", "%i"], capture_output=True, text=True).stdout
    task = tasks.split()[0]
    subprocess.run(["scontrol", "requeue", task], check=True)
    # Once back in the queue, a requeued job waits two minutes before it may start again: let it start now.
    while time.monotonic() < deadline and "PENDING" not in _state(task):
        time.sleep(0.5)
    subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], check=True)
    while time.monotonic() < deadline and not list(out.rglob("*.json")):
        time.sleep(1)
    time.sleep(1)
    log = "\n".join(p.read_text() for p in sorted(logs.glob("*_log.err")))
    assert "DUE TO JOB REQUEUE" in log
    assert re.search(r"resumed from \S+fold0-seed0-\w+/checkpoint after epoch [12] of 3", log), log
    records = read_records(out)
    assert [r.nodules for r in records] == [r.nodules for r in read_records(tmp_path / "straight")]
    assert not found[0].exists()  # deleted once the record was written


def test_a_failing_job_names_its_error_and_log(env, tmp_path):
    out, logs = tmp_path / "results", tmp_path / "logs"
    failed = _lidcbench(["run", "tiny-net", "--folds", "0", "--set", "fail_at_epoch=1", "--executor", "slurm",
                         "--out", str(out), "--slurm-logs", str(logs), *SMALL], env, tmp_path)
    assert failed.returncode == 1
    said = failed.stdout
    assert "1 job(s) failed" in said and "tiny-net fold 0 seed 0" in said
    assert "RuntimeError: tiny-net fails at epoch 1, as fail_at_epoch asks" in said
    log = re.search(r"log: (\S+_log\.err)", said)[1]
    assert Path(log).is_file() and "fail_at_epoch" in Path(log).read_text()
