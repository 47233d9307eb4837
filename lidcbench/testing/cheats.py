"""A method that tries to read the labels, one route per ``route``: the leakage guard's test.

Each route is an ordinary mistake a plugin could make; the guard must refuse
every one of them while ``fit`` or ``predict`` runs (see
:mod:`lidcbench.running.isolation`). The loader is bound when this module is
imported, as a plugin that writes ``from lidcbench.protocol.cohort import ...`` at its
top would, so that patching ``lidcbench.protocol.cohort`` cannot catch it.
"""
from __future__ import annotations

import contextlib
import gc
import glob
import os
import sqlite3
import tempfile
import types
from pathlib import Path

import numpy as np

from lidcbench.plugins.method import FoldData, Method, prediction_frame
from lidcbench.protocol.cohort import _load_cohort  # bound at import time, on purpose
from lidcbench.protocol.rules import Protocol

ROUTES = ("bound_loader", "sqlite", "frozen_files", "cohort_cache", "records", "swallowed")
# Routes a determined plugin takes (issue 20's audit): only the operating system's wall stops all of them.
DETERMINED_ROUTES = ("emptied_guard", "dir_fd", "listdir", "sqlite_uri", "sqlite_attach", "git_objects",
                     "runner_memory", "other_buffers", "forkserver", "poisoned_result")


class LabelReadingMethod(Method):
    """Predicts the true label of each test nodule if its route lets it read one.

    ``target``: the file the route opens (the database for ``bound_loader``
    and ``sqlite``, a frozen or cache file otherwise). ``swallowed`` opens
    ``target`` and ignores the refusal, which must still fail the fold.
    What a route read is left in ``weights_`` ("read N bytes ..."), so that a
    check sees a leak even where the route does not reach a label per nodule.

    The :data:`DETERMINED_ROUTES`: ``emptied_guard`` empties the audit hook's
    closure (found through ``gc``) and then reads ``target``; ``dir_fd`` opens
    its temporary folder and then ``target`` relative to it; ``listdir`` lists the folder
    ``target`` (the names say which records exist); ``sqlite_uri`` opens ``target`` as a
    ``file://localhost/`` URI with its path percent-encoded; ``sqlite_attach``
    attaches it to an in-memory database and copies it with ``backup()``;
    ``git_objects`` reads files of the ``objects`` folder of the git folder ``target``;
    ``runner_memory`` reads ``/proc/<target>/mem`` where ``/proc/<target>/maps``
    puts the heap; ``other_buffers`` reads fold buffers of other jobs
    (``/dev/shm/lidcbench-fold-*`` files, memory files of process ``target``);
    ``forkserver`` asks multiprocessing's forkserver, which is outside the
    wall, to fork a process for it; ``poisoned_result`` returns an object whose
    unpickling runs code in the runner (which holds every label).
    """

    def __init__(self, route: str = "bound_loader", target: str = "", seed: int = 0):
        self.route = route
        self.target = target
        self.seed = seed

    def fit(self, train: FoldData) -> LabelReadingMethod:
        self.fitted_ = True
        return self

    def predict(self, test: FoldData):
        if self.route == "poisoned_result":
            self.weights_ = _RunsInTheRunner()
            return prediction_frame(test, np.full(len(test.patches), 0.5))
        if self.route in DETERMINED_ROUTES:
            read = getattr(self, f"_{self.route}")(self.target)
            self.weights_ = f"read {read} bytes through {self.route}"
            return prediction_frame(test, np.full(len(test.patches), 0.5))
        labels = self._read_labels()
        malignancy = np.array([labels.get(n, 0.5) for n in test.patches.nodule_ids], dtype=float)
        return prediction_frame(test, malignancy)

    def _read_labels(self) -> dict[str, float]:
        if self.route == "bound_loader":
            table = _load_cohort(Protocol(), Path(self.target)).table
            return dict(zip(table["nodule_id"], table["label"].astype(float)))
        if self.route == "sqlite":
            rows = sqlite3.connect(self.target).execute("select count(*) from annotations").fetchall()
            return {"rows": float(rows[0][0])}
        if self.route == "swallowed":
            try:
                Path(self.target).read_bytes()
            except Exception:  # noqa: BLE001 - the point: a method that hides the refusal
                pass
            return {}
        if self.route in ("frozen_files", "cohort_cache", "records"):
            return {"bytes": float(len(Path(self.target).read_bytes()))}
        raise ValueError(f"unknown route {self.route!r}")

    @staticmethod
    def _emptied_guard(target: str) -> int:
        # Functions only: getattr on every object would wake lazy modules (torch.backends.cuda starts CUDA).
        for hook in [o for o in gc.get_objects() if isinstance(o, types.FunctionType) and o.__name__ == "hook"]:
            for cell in hook.__closure__ or ():
                if callable(cell.cell_contents):
                    cell.cell_contents = lambda *args: None  # the guard's checks, now say yes to all
        return len(Path(target).read_bytes())

    @staticmethod
    def _dir_fd(target: str) -> int:
        allowed = tempfile.gettempdir()  # the method's own temporary folder, which it may open
        root = os.open(allowed, os.O_RDONLY)
        try:
            fd = os.open(os.path.relpath(target, allowed), os.O_RDONLY, dir_fd=root)
        finally:
            os.close(root)
        with os.fdopen(fd, "rb") as file:
            return len(file.read())

    @staticmethod
    def _listdir(target: str) -> int:
        return sum(len(name) for name in os.listdir(target))  # the names alone: which records exist

    @staticmethod
    def _sqlite_uri(target: str) -> int:
        # Every letter percent-encoded: the path in the URI names no refused folder as text.
        path = "".join(f"%{ord(c):02X}" if c.isalpha() else c for c in os.path.abspath(target))
        uri = f"file://localhost{path}?mode=ro"
        return len(sqlite3.connect(uri, uri=True).execute("select * from annotations").fetchall())

    @staticmethod
    def _sqlite_attach(target: str) -> int:
        memory = sqlite3.connect(":memory:")
        memory.execute("ATTACH DATABASE ? AS labels", (target,))
        copy = sqlite3.connect(":memory:")
        memory.backup(copy, name="labels")
        return len(copy.execute("select * from annotations").fetchall())

    @staticmethod
    def _git_objects(target: str) -> int:
        read = 0
        for path in glob.iglob(os.path.join(target, "objects", "**"), recursive=True):
            if os.path.isfile(path) and read < 1 << 20:
                read += len(Path(path).read_bytes())
        return read

    @staticmethod
    def _runner_memory(target: str) -> int:
        maps = Path(f"/proc/{target}/maps").read_text().splitlines()
        heap = next(line for line in maps if line.endswith("[heap]"))
        start, end = (int(part, 16) for part in heap.split()[0].split("-"))
        with open(f"/proc/{target}/mem", "rb") as memory:
            memory.seek(start)
            return len(memory.read(min(end - start, 1 << 20)))

    @staticmethod
    def _other_buffers(target: str) -> int:
        read = sum(len(Path(path).read_bytes()) for path in glob.glob("/dev/shm/lidcbench-fold-*/*"))
        for link in glob.glob(f"/proc/{target}/fd/*"):
            with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor, closed since
                if "lidcbench-fold" in os.readlink(link):
                    read += len(Path(link).read_bytes())
        return read

    @staticmethod
    def _forkserver(target: str) -> int:
        import select
        import socket
        from multiprocessing import forkserver, reduction

        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        with socket.socket(socket.AF_UNIX) as server:
            server.connect(forkserver._forkserver._forkserver_address)
            reduction.sendfds(server, [child_r, child_w, child_r, child_r])
        for fd in (child_r, child_w, parent_w):
            os.close(fd)  # the forkserver's copies (if it took them) are the only ones left
        try:
            if not select.select([parent_r], [], [], 10)[0]:
                return 0
            return 1 if forkserver.read_signed(parent_r) > 0 else 0  # a process forked outside the wall
        except (EOFError, OSError):
            return 0  # refused: the forkserver closed the connection and the pipe with it
        finally:
            os.close(parent_r)


class _RunsInTheRunner:
    """Unpickled, it runs code in the process that unpickles it."""

    def __reduce__(self):
        return eval, ("'read 1 bytes through poisoned_result: code ran in process %d' % __import__('os').getpid()",)
