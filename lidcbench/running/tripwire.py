"""The tripwire: an audit hook in the method's child process that refuses what holds labels.

:func:`install` adds a hook (:func:`sys.addaudithook`; no code in the process can
remove it) that refuses, for any path in or under a refused folder:

* opening it (``open``, ``io.open``, ``os.open`` and every reader built on them),
  listing it (``os.listdir``, ``os.scandir``, and so ``glob`` and ``os.walk``),
  linking, renaming or copying it;
* ``sqlite3.connect`` of it, also as an sqlite URI (``file://localhost/…``,
  percent-encoded: decoded before the check), and ``ATTACH DATABASE`` of it
  through a connection opened with :func:`sqlite3.connect` in the process (an
  sqlite authorizer set on each as it opens; an ``ATTACH`` whose file is a bound
  parameter cannot be checked, so it is refused);
* another process's ``/proc/<pid>`` entries (the runner's memory and file
  descriptors, another job's fold buffers).

The ``open`` audit event carries no ``dir_fd``: a relative name is checked
against the working folder and against every folder the process holds open
(found through ``/proc/self/fd`` on Linux, ``F_GETPATH`` on macOS), since an
open relative to a folder's descriptor must start from such a folder. It is a
tripwire for honest mistakes, not a wall: the method controls the interpreter
it lives in, so it can empty the hook (through :mod:`gc`), remove a
connection's authorizer, build ``sqlite3.Connection`` itself, call C code or
start a subprocess. The operating
system's wall (:mod:`.wall`) is what stops a determined method.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from lidcbench.errors import LeakageError

# Audit event -> the positions of its arguments that name a path.
GUARDED_EVENTS = {"open": (0,), "sqlite3.connect": (0,), "os.link": (0, 1), "os.symlink": (0, 1),
                  "os.rename": (0, 1), "shutil.copyfile": (0,), "shutil.copytree": (0,), "os.listdir": (0,),
                  "os.scandir": (0,)}
_PROCESS_ENTRY = re.compile(r"^/proc/(\d+)(/|$)")
_SQLITE_ATTACH = 24  # sqlite3's action code for ATTACH (the module names it SQLITE_ATTACH from 3.11 on)


def repository_sources(places: Iterable[str]) -> list[str]:
    """The results folder and the git objects of each repository that holds one of ``places`` (the
    working folder, lidcbench's own folder): committed records, whatever the working folder."""
    from .wall import repository_of

    found = []
    for place in places:
        repository = repository_of(place) if os.path.exists(place) else None
        if repository:
            found += [os.path.join(repository, "results"), *git_folders(repository)]
    return found


def git_folders(repository: str) -> list[str]:
    """The repository's ``.git`` and, for a worktree (whose ``.git`` is a file naming its folder), the
    folder that holds the objects of every worktree."""
    dot_git = os.path.join(repository, ".git")
    if os.path.isdir(dot_git):
        return [dot_git]
    try:
        with open(dot_git, encoding="utf-8") as file:
            named = file.read().split("gitdir:", 1)[1].strip()
    except (OSError, IndexError):
        return [dot_git]
    worktree = os.path.join(repository, named)
    common = os.path.join(worktree, "commondir")
    if os.path.isfile(common):
        with open(common, encoding="utf-8") as file:
            return [dot_git, os.path.realpath(os.path.join(worktree, file.read().strip()))]
    return [dot_git, os.path.realpath(worktree)]


def sqlite_path(text: str) -> str:
    """An sqlite URI as the file it names (``file://localhost/a%20b?mode=ro`` -> ``/a b``); other text as is."""
    if not text.startswith("file:"):
        return text
    path = text[5:].split("?", 1)[0].split("#", 1)[0]
    if path.startswith("//"):  # an authority: sqlite accepts only "" and "localhost"
        path = "/" + path[2:].split("/", 1)[1] if "/" in path[2:] else "/"
    return unquote(path)


def install(refused: tuple[str, ...], runner: int) -> list[str]:
    """Add the hook; returns the list it appends each refused attempt to (the fold fails on any)."""
    attempts: list[str] = []
    me = os.getpid()

    def refused_path(path: str) -> str | None:
        path = os.path.realpath(path)
        process = _PROCESS_ENTRY.match(path)
        if process and int(process[1]) != me:
            return path
        return path if any(path == r or path.startswith(r + os.sep) for r in refused) else None

    def is_refused(target: Any, event: str) -> str | None:
        if isinstance(target, int) or target is None:  # an open file descriptor: opened earlier, or refused then
            return None
        try:
            text = os.fsdecode(target)
        except TypeError:
            return None
        if event == "sqlite3.connect":
            text = sqlite_path(text)
        if text.startswith(("/", "file:")) or event == "sqlite3.connect":
            return refused_path(text)
        # Relative: against the working folder, and against each folder held open (a dir_fd's start).
        for folder in [os.getcwd(), *_open_folders()]:
            path = refused_path(os.path.join(folder, text))
            if path is not None:
                return path
        return None

    def refuse(event: str, path: str) -> None:
        attempts.append(f"{event} {path}")
        raise LeakageError(f"refused while a method fits or predicts: {event} {path} (it holds labels).")

    def authorizer(action: int, first: Any, *_: Any) -> int:
        import sqlite3

        if action != _SQLITE_ATTACH:
            return 0  # SQLITE_OK
        # A file given as a bound parameter (ATTACH ? AS x) is not known when sqlite asks: refused unseen.
        path = refused_path(sqlite_path(first)) if first else "a file given as a parameter"
        if path is None:
            return 0
        attempts.append(f"sqlite3 ATTACH {path}")
        return sqlite3.SQLITE_DENY

    def hook(event: str, args: tuple) -> None:
        positions = GUARDED_EVENTS.get(event)
        if positions is None:
            return
        for position in positions:
            path = is_refused(args[position], event) if position < len(args) else None
            if path is not None:
                refuse(event, path)

    sys.addaudithook(hook)
    _authorize_connections(authorizer)
    return attempts


def _authorize_connections(authorizer) -> None:
    """``ATTACH DATABASE`` is SQL that sqlite runs in C, unseen by the audit hook: every connection made
    through :func:`sqlite3.connect` from now on gets ``authorizer``. (The audit event of a new connection,
    ``sqlite3.connect/handle``, comes before the connection can take one; a method that calls
    ``sqlite3.Connection`` itself, or clears the authorizer, goes around this.)"""
    import sqlite3

    plain = sqlite3.connect

    def connect(*args: Any, **options: Any) -> sqlite3.Connection:
        connection = plain(*args, **options)
        connection.set_authorizer(authorizer)
        return connection

    sqlite3.connect = connect


def _open_folders() -> list[str]:
    """The folders this process holds open descriptors of (Linux, macOS; none found elsewhere)."""
    folders = []
    if os.path.isdir("/proc/self/fd"):
        for name in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{name}")
            except OSError:
                continue
            if target.startswith("/") and os.path.isdir(target):
                folders.append(target)
        return folders
    try:
        import fcntl
    except ImportError:
        return folders
    if not hasattr(fcntl, "F_GETPATH"):
        return folders
    for fd in range(3, 1024):
        try:
            path = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024)).rstrip(b"\0").decode()
        except OSError:
            continue
        if os.path.isdir(path):
            folders.append(path)
    return folders
