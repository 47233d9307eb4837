"""Warnings as one line each on the command line: ``lidcbench: warning: MESSAGE``.

Python's default shows the file and line that warned and that line's source: for a user of the
``lidcbench`` command, a path into lidcbench's or a library's code that says nothing they can act on.
The CLI's entry point formats warnings with :func:`one_line_warnings` while a command runs; the runner
hands the same format on to the processes that run a fold (local workers, the guarded child), whose
warnings reach the same terminal. A library user's process is left with Python's own format, which
points at their call (``stacklevel``).
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath

PREFIX = "lidcbench: warning"
_OWN = ("lidcbench", "methods", "baselines")  # lidcbench's own code: no origin to name


def _package(filename: str) -> str:
    """The installed package a file belongs to ('' for lidcbench's own code and files outside one)."""
    parts = PurePath(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts[:-1]:
            package = parts[parts.index(marker) + 1].removesuffix(".py")
            return "" if package in _OWN else package
    return ""


def one_line(message, category: type[Warning], filename: str, lineno: int, line: str | None = None) -> str:
    """The warning as one line: lidcbench's own plain; another's with its kind and package."""
    text = " ".join(str(message).split())
    package = _package(filename)
    origin = ", ".join(part for part in ("" if category is UserWarning else category.__name__,
                                         f"from {package}" if package else "") if part)
    return f"{PREFIX}: {text}{f' ({origin})' if origin else ''}\n"


def show(message, category, filename, lineno, file=None, line=None) -> None:
    """A :func:`warnings.showwarning` that writes :func:`one_line`."""
    stream = sys.stderr if file is None else file
    try:
        stream.write(one_line(message, category, filename, lineno, line))
    except (OSError, AttributeError):  # no stderr (a closed pipe, pythonw): the warning is lost, as Python does
        pass


def installed() -> bool:
    return warnings.showwarning is show


def install() -> None:
    """For a process started to run folds for a runner that shows warnings as one line."""
    warnings.showwarning = show


KEPT = 10  # distinct warnings a record keeps: the rest are counted, not listed (lidcbench.results.records)


@contextmanager
def collected() -> Iterator[list[str]]:
    """The warnings shown while the block runs, each as its one line's text (without the prefix), in order;
    still shown as before. What a fit met goes into its record, so a page can say it."""
    seen: list[str] = []
    previous = warnings.showwarning

    def show_and_keep(message, category, filename, lineno, file=None, line=None) -> None:
        seen.append(one_line(message, category, filename, lineno).removeprefix(f"{PREFIX}: ").rstrip("\n"))
        previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show_and_keep
    try:
        yield seen
    finally:
        warnings.showwarning = previous


def summary(seen: list[str]) -> list[str]:
    """The distinct warnings of :func:`collected` in order of first sight, with a count where one came more than
    once, at most :data:`KEPT` of them, then one line counting the rest."""
    counts: dict[str, int] = {}
    for text in seen:
        counts[text] = counts.get(text, 0) + 1
    lines = [text if count == 1 else f"{text} ({count} times)" for text, count in counts.items()]
    rest = len(lines) - KEPT
    return lines[:KEPT] + ([f"and {rest} other distinct warning(s)"] if rest > 0 else [])


@contextmanager
def one_line_warnings() -> Iterator[None]:
    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
