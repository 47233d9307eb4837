"""Progress reporting that methods can call without knowing who displays it.

The runner installs a reporter (the run's live view, a log line per epoch);
everywhere else the calls do nothing. A method wraps its epoch loop::

    with progress.task("epochs", total=epochs) as advance:
        for epoch in range(epochs):
            ...
            advance(images=len(train), loss=0.41)  # figures are optional

Each call hands the reporter an :class:`Update`: the step reached, the
figures given (loss parts), images a second over the last step (when
``images`` is given) and an ETA from the steps timed so far. An Update
pickles, so it can cross to another process (the guarded child's updates
reach the runner through :mod:`lidcbench.running.progress_channel`).
"""
from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Reporter = Callable[["Update"], None]

_reporter: contextvars.ContextVar = contextvars.ContextVar("lidcbench_progress", default=None)


@dataclass(frozen=True)
class Update:
    """Where a task stands: ``completed`` of ``total`` steps, with what the last step reported."""

    description: str
    completed: int
    total: int
    figures: dict[str, float] = field(default_factory=dict)  # e.g. the loss parts of the last epoch
    images_per_s: float | None = None
    eta_s: float | None = None  # None until a step has been timed

    def text(self) -> str:
        """One plain line: ``epochs 3/10, loss cls 0.512 reg 0.031, 812 images/s, ETA 1 min 04 s``."""
        parts = [f"{self.description} {self.completed}/{self.total}"]
        if self.figures:
            parts.append("loss " + " ".join(f"{name} {value:.4g}" for name, value in self.figures.items()))
        if self.images_per_s is not None:
            parts.append(f"{self.images_per_s:.0f} images/s")
        if self.eta_s is not None and self.completed < self.total:
            parts.append(f"ETA {duration(self.eta_s)}")
        return ", ".join(parts)


def duration(seconds: float) -> str:
    """``12 s``, ``4 min 05 s`` or ``2 h 05 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"


class _Task:
    """The steps of one task and their timing; ``resumed`` steps (restored from a checkpoint) are not timed."""

    def __init__(self, reporter: Reporter, description: str, total: int):
        self.reporter, self.description, self.total = reporter, description, total
        self.completed = self.timed_steps = 0
        self.timed_s = 0.0
        self.clock = time.perf_counter()
        reporter(Update(description, 0, total))

    def advance(self, steps: int = 1, *, resumed: bool = False, images: int | None = None,
                **figures: float) -> None:
        now = time.perf_counter()
        seconds, self.clock = now - self.clock, now
        self.completed += steps
        if not resumed:
            self.timed_steps += steps
            self.timed_s += seconds
        eta = self.timed_s / self.timed_steps * max(self.total - self.completed, 0) if self.timed_steps else None
        rate = images / seconds if images and not resumed and seconds > 0 else None
        self.reporter(Update(self.description, self.completed, self.total, {k: float(v) for k, v in figures.items()},
                             rate, eta))


def _ignore(steps: int = 1, **_: object) -> None:
    return None


@contextlib.contextmanager
def task(description: str, total: int) -> Iterator[Callable[..., None]]:
    """Yields ``advance(steps=1, *, resumed=False, images=None, **figures)``; a no-op without a reporter."""
    reporter = _reporter.get()
    if reporter is None:
        yield _ignore
        return
    yield _Task(reporter, description, total).advance


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Send every :class:`Update` of :func:`task` calls to ``reporter`` for the duration."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def current() -> Reporter | None:
    """The reporter in force here, or None."""
    return _reporter.get()


def install(reporter: Reporter) -> None:
    """Report to ``reporter`` from now on in this context (a process that lives for one job)."""
    _reporter.set(reporter)
