from __future__ import annotations

from pathlib import Path

import pytest

from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.database import load_annotations
from lidcbench.protocol.folds import load_folds
from lidcbench.protocol.rules import Protocol


@pytest.fixture(scope="session", autouse=True)
def forkserver_with_torch():
    """Every walled fold of this process forks from one forkserver, and the first start decides what it
    preloads. This process imports torch, so each fold's child takes on torch's settings and, from a
    server started for a method without torch, would import torch anew (seconds a fold, minutes a suite).
    Start it with the torch stack, as a torch method's run does."""
    from lidcbench.plugins.registry import default_registry
    from lidcbench.running.isolation import start_early

    start_early(default_registry().get("tiny-net"))


@pytest.fixture(scope="session")
def annotations():
    return load_annotations()


@pytest.fixture(scope="session")
def cohort():
    return load_cohort(Protocol())


@pytest.fixture(scope="session")
def folds():
    return load_folds()


OPT_IN_MARKERS = ("slow", "gpu")  # run only when asked for: by marker (-m slow) or by name (the file or test)


def _named(item, config) -> bool:
    """Whether the command line names this test's file or the test itself (not only a folder)."""
    for arg in config.args:
        path = Path(arg.split("::")[0])
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        if path.is_file() and path.resolve() == Path(item.path).resolve():
            return "::" not in arg or item.nodeid.endswith(arg.split("::", 1)[1]) or arg.split("::", 1)[1] in item.nodeid
    return False


def pytest_collection_modifyitems(config, items):
    if config.option.markexpr:  # -m decides by itself
        return
    kept, deselected = [], []
    for item in items:
        opt_in = any(item.get_closest_marker(m) for m in OPT_IN_MARKERS)
        (deselected if opt_in and not _named(item, config) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
