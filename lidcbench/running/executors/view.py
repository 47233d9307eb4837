"""One live view of a run's jobs, whatever runs them: the running ones with their epoch, loss, images/s
and ETA, the finished ones with their AUC, and one printed line per finished job (so a log or a pipe keeps
the story too; piped, each epoch gets its line as well)."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from lidcbench.progress import Reporter, Update

SHOWN_FINISHED = 8  # the last few finished jobs stay in the table; every one is printed above it


@dataclass
class _Job:
    label: str
    state: str = "queued"
    where: str = ""
    progress: str = ""
    started: float | None = None
    result: str = ""


@dataclass
class JobView:
    """Call :meth:`started`, :meth:`progress`, :meth:`finished` and :meth:`failed` with each job's label."""

    console: Console
    labels: list[str]
    jobs: dict[str, _Job] = field(init=False)
    finished_order: list[str] = field(default_factory=list, init=False)
    failures: list[str] = field(default_factory=list, init=False)

    def __post_init__(self):
        self.jobs = {label: _Job(label) for label in self.labels}
        self._live = Live(self, console=self.console, refresh_per_second=4, transient=True)

    def __enter__(self) -> JobView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._live.__exit__(*exc)

    def state(self, label: str, state: str, where: str = "") -> None:
        job = self.jobs[label]
        if state == "running" and job.started is None:
            job.started = time.monotonic()
        job.state, job.where = state, where or job.where

    def started(self, label: str, where: str = "") -> None:
        self.state(label, "running", where)

    def progress(self, label: str, update: Update) -> None:
        """The job's progress column; piped (a log, a file) also one plain line per step."""
        self.progress_text(label, update.text(), printed=update.completed > 0)

    def progress_text(self, label: str, text: str, printed: bool = True) -> None:
        job = self.jobs[label]
        if text == job.progress:
            return
        job.progress = text
        if printed and not self.console.is_terminal:
            self.console.print(f"{label}: {text}", highlight=False)

    def finished(self, label: str, auc: float | None, path: str) -> None:
        job = self.jobs[label]
        seconds = f" in {time.monotonic() - job.started:.0f} s" if job.started is not None else ""
        job.state, job.result = "done", "AUC -" if auc is None else f"AUC {auc:.3f}"
        self.finished_order.append(label)
        self.console.print(f"done {label}: {job.result}{seconds}", highlight=False)

    def skipped(self, label: str, reason: str) -> None:
        job = self.jobs[label]
        job.state, job.result = "skipped", reason
        self.finished_order.append(label)
        self.console.print(f"skipped {label}: {reason}", highlight=False)

    def failed(self, label: str, message: str) -> None:
        job = self.jobs[label]
        job.state, job.result = "failed", message
        self.finished_order.append(label)
        self.failures.append(f"{label}: {message}")
        self.console.print(f"[red]failed[/] {label}: {message}", highlight=False)

    def reporter(self, label: str) -> Reporter:
        """A :mod:`lidcbench.progress` reporter for the job ``label``."""
        return functools.partial(self.progress, label)

    def __rich__(self):
        counts = {s: sum(j.state == s for j in self.jobs.values()) for s in ("queued", "pending", "running", "done",
                                                                             "skipped", "failed")}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("job", "state", "where", "progress", "time", "result"):
            table.add_column(column)
        now = time.monotonic()
        running = [j for j in self.jobs.values() if j.state in ("running", "pending")]
        for job in running + [self.jobs[label] for label in self.finished_order[-SHOWN_FINISHED:]]:
            elapsed = f"{now - job.started:.0f} s" if job.started is not None and job.state == "running" else ""
            table.add_row(job.label, job.state, job.where, job.progress if job.state == "running" else "", elapsed,
                          job.result)
        return Group(Text(f"jobs: {summary}"), table)
