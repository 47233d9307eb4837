"""Progress reporting that methods can call without knowing who displays it.

The runner installs a reporter (a rich progress bar); everywhere else the
calls do nothing. A method wraps its epoch loop::

    with progress.task("epochs", total=epochs) as advance:
        for epoch in range(epochs):
            ...
            advance()
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

_reporter: contextvars.ContextVar = contextvars.ContextVar("lidcbench_progress", default=None)


@contextlib.contextmanager
def task(description: str, total: int) -> Iterator[Callable[[], None]]:
    reporter = _reporter.get()
    if reporter is None:
        yield lambda: None
        return
    task_id = reporter.add_task(description, total=total)
    try:
        yield lambda: reporter.advance(task_id)
    finally:
        reporter.remove_task(task_id)


@contextlib.contextmanager
def reporting_to(progress) -> Iterator[None]:
    """Send :func:`task` calls to a ``rich.progress.Progress`` for the duration."""
    token = _reporter.set(progress)
    try:
        yield
    finally:
        _reporter.reset(token)
