"""The leakage guard's own conformance check: every ordinary route to the labels is refused.

:func:`check_guard` runs :class:`~lidcbench.testing.cheats.LabelReadingMethod`
through :func:`lidcbench.running.isolation.fit_predict`, exactly as the runner does,
once per route, and requires :class:`~lidcbench.errors.LeakageError` each
time; a control run that opens a harmless file must succeed, so the refusals
come from the guard and not from a broken method.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from lidcbench.cachedir import cache_root
from lidcbench.errors import LeakageError
from lidcbench.protocol.database import default_db_path
from lidcbench.protocol.folds import folds_path
from lidcbench.protocol.grouping import grouping_path
from lidcbench.running.isolation import _cohort_cache_dir, fit_predict, label_sources

from .cheats import LabelReadingMethod


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


def check_guard(train, test, results_dir: Path | None = None) -> dict[str, str]:
    """Assert that the guard refuses every route; returns route -> the refusal's message."""
    results_dir = Path(results_dir or tempfile.mkdtemp(prefix="lidcbench-guard-"))
    refused = label_sources(default_db_path(), [results_dir])
    harmless = Path(tempfile.mkdtemp(prefix="lidcbench-guard-")) / "harmless.bin"
    harmless.write_bytes(b"no labels here")
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
    return messages
