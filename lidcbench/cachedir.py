"""Where lidcbench keeps what it can rebuild: patch files and DICOM header indexes."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

CACHE_ENV = "LIDCBENCH_CACHE"
TEMPORARY_SUFFIX = ".tmp"


def cache_root(override: Path | str | None = None) -> Path:
    """``override``, else ``$LIDCBENCH_CACHE``, else ``$XDG_CACHE_HOME/lidcbench``
    (``~/.cache/lidcbench`` when XDG_CACHE_HOME is unset)."""
    if override is not None:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "lidcbench"


def write_atomically(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    The bytes go to a temporary file in the same folder, are synced to disk, and
    only then renamed over ``path``; a crash midway leaves at most a ``.tmp``
    file that no reader opens (``lidcbench cache clear`` removes it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
    try:
        with open(temporary, "wb") as file:
            for piece in [data] if isinstance(data, bytes) else data:
                file.write(piece)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def build_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``<path>.lock`` (an exclusive ``flock``) while ``path`` is built, so that processes started
    together wait for one build instead of each making their own; ``on_wait`` is called once if
    another process holds it. The lock goes with the process, however it ends."""
    import fcntl

    lock_path = path.with_name(f"{path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)  # leaves no file behind; a waiter holds the old one and re-checks
            fcntl.flock(handle, fcntl.LOCK_UN)
