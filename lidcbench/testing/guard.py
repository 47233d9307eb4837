"""The leakage guard's own conformance check: every route to the labels is stopped.

:func:`check_guard` runs :class:`~lidcbench.testing.cheats.LabelReadingMethod`
through :func:`lidcbench.running.isolation.fit_predict`, exactly as the runner does,
once per route. The ordinary routes must end in
:class:`~lidcbench.errors.LeakageError`; the determined ones
(:data:`~lidcbench.testing.cheats.DETERMINED_ROUTES`, and reading the repository's
``results/`` from another working directory) must end in a refusal (LeakageError
or the kernel's PermissionError) or read nothing. A control run that opens a
harmless file must succeed, so the refusals come from the guard and not from a
broken method.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from pathlib import Path

from lidcbench.cachedir import cache_root
from lidcbench.errors import LeakageError, PluginError
from lidcbench.protocol.database import default_db_path
from lidcbench.protocol.folds import folds_path
from lidcbench.protocol.grouping import grouping_path
from lidcbench.running.isolation import _cohort_cache_dir, _shared_payload, fit_predict, label_sources, wall_available
from lidcbench.running.wall import repository_of

from .cheats import LabelReadingMethod

# What only the operating system's wall stops: code in the method's own interpreter can undo an audit hook.
WALL_ONLY = ("emptied_guard", "forkserver")


def guard_routes(results_dir: Path) -> dict[str, str]:
    """Route -> the file it opens. A cohort-cache file and a record are written first (if absent),
    so that without the guard each read would succeed."""
    cache_file = _cohort_cache_dir(cache_root()) / "cohort-guard-check.pkl"
    record_file = Path(results_dir) / "guard-check" / "fold0-seed0.json"
    for path in (cache_file, record_file):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('{"label": 1}\n')
    database = str(default_db_path())
    return {"bound_loader": database, "sqlite": database, "frozen_files": str(folds_path()),
            "frozen_grouping": str(grouping_path()), "cohort_cache": str(cache_file),
            "records": str(record_file), "swallowed": database}


def determined_routes(results_dir: Path, wall: bool) -> dict[str, str]:
    """Route -> its target, for the routes of :data:`~lidcbench.testing.cheats.DETERMINED_ROUTES` that the
    isolation on this system stops (all with the wall; all but :data:`WALL_ONLY` with the tripwire alone)."""
    database = str(default_db_path())
    cache_file = _cohort_cache_dir(cache_root()) / "cohort-guard-check.pkl"
    repository = repository_of(os.path.dirname(__file__))
    routes = {"emptied_guard": database, "dir_fd": str(cache_file), "listdir": str(Path(results_dir) / "guard-check"),
              "sqlite_uri": database, "sqlite_attach": database, "runner_memory": str(os.getpid()),
              "other_buffers": str(os.getpid()), "forkserver": "", "poisoned_result": ""}
    if repository:  # an installed lidcbench has no repository to read
        routes["git_objects"] = _git_folder(repository)
    return {route: target for route, target in routes.items() if wall or route not in WALL_ONLY}


def check_guard(train, test, results_dir: Path | None = None) -> dict[str, str]:
    """Assert that the guard stops every route; returns route -> what the method met (a refusal's message,
    or what it read: nothing)."""
    results_dir = Path(results_dir or tempfile.mkdtemp(prefix="lidcbench-guard-"))
    refused = label_sources(default_db_path(), [results_dir])
    harmless = os.__file__  # a file of the Python installation, which a method may read behind the wall too
    fitted = fit_predict(LabelReadingMethod, {"route": "frozen_files", "target": str(harmless)}, train, test, refused)
    assert len(fitted.predictions) == len(test.patches), "the control run (a harmless file) failed"
    messages = {}
    for route, target in guard_routes(results_dir).items():
        params = {"route": "frozen_files" if route == "frozen_grouping" else route, "target": target}
        try:
            fit_predict(LabelReadingMethod, params, train, test, refused)
        except LeakageError as error:
            messages[route] = str(error)
            continue
        raise AssertionError(f"the leakage guard let route {route!r} read {target}")
    for route, target in determined_routes(results_dir, wall_available()).items():
        messages[route] = _stopped(route, target, train, test, refused)
    committed = _committed_record()
    if committed is not None:  # the repository's results/, from a runner whose working folder is elsewhere
        with _working_folder(tempfile.mkdtemp(prefix="lidcbench-guard-")):
            messages["results_elsewhere"] = _stopped("frozen_files", str(committed), train, test,
                                                     label_sources(default_db_path(), []))
    return messages


def _stopped(route: str, target: str, train, test, refused) -> str:
    """What the method met on ``route``; an AssertionError if it read anything. Another job's fold
    buffers are held open meanwhile, as under ``--jobs 2``."""
    import numpy as np

    decoy = np.arange(4096, dtype=np.int64)  # stands for another job's training-label column
    try:
        with _shared_payload(decoy):
            fitted = fit_predict(LabelReadingMethod, {"route": route, "target": target}, train, test, refused)
    except (LeakageError, PermissionError, BrokenPipeError, ConnectionError) as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    except (sqlite3.OperationalError, PluginError) as error:  # sqlite's words for a refused open; a refused result
        if "unable to open" not in str(error) and "does not unpickle" not in str(error):
            raise
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    if route == "frozen_files" or not str(fitted.weights).startswith("read 0 bytes"):
        raise AssertionError(f"the leakage guard let route {route!r} read {target}: {fitted.weights}")
    return f"read nothing ({fitted.weights})"


def _git_folder(repository: str) -> str:
    """The folder that holds the repository's objects (a worktree's ``.git`` is a file naming it)."""
    dot_git = Path(repository, ".git")
    if dot_git.is_dir():
        return str(dot_git)
    worktree = Path(dot_git.read_text().split("gitdir:", 1)[1].strip())
    common = worktree / "commondir"
    return str((worktree / common.read_text().strip()).resolve() if common.is_file() else worktree)


def _committed_record() -> Path | None:
    repository = repository_of(os.path.dirname(__file__))
    results = Path(repository, "results") if repository else None
    return next((path for path in results.rglob("*.json")), None) if results and results.is_dir() else None


@contextlib.contextmanager
def _working_folder(folder: str):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)
