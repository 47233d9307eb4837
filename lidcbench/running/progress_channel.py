"""Progress from the guarded child (:mod:`.isolation`) to the runner.

``fit`` runs in a child process where the runner's reporter (a context
variable of the runner) does not exist. A pipe is opened before the child
starts; the child gets its writing end (an open descriptor: nothing to open
behind the guard or a wall) and reports every :class:`lidcbench.progress.Update`
into it; a thread in the runner hands what arrives to the reporter in force
where the fold was started (the live view, a worker's event queue, a log).
"""
from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

from lidcbench import progress

POLL_S = 0.1


@contextmanager
def forwarding() -> Iterator[Connection | None]:
    """Yields the end to hand to the child (None when nothing here shows progress) while a thread forwards."""
    reporter = progress.current()
    if reporter is None:
        yield None
        return
    receiver, sender = multiprocessing.Pipe(duplex=False)
    finished = threading.Event()

    def forward() -> None:
        try:
            while receiver.poll(POLL_S) or not finished.is_set():
                if receiver.poll(0):
                    reporter(receiver.recv())
        except (EOFError, OSError):  # the child is gone; its result says why
            pass
        except Exception:  # pylint: disable=broad-except  # a display fault must not fail the fold
            pass

    thread = threading.Thread(target=forward, name="lidcbench-progress", daemon=True)
    thread.start()
    try:
        yield sender
    finally:
        finished.set()  # what is already in the pipe is still forwarded
        thread.join()
        sender.close()
        receiver.close()


def report_through(sender: Connection | None) -> None:
    """In the child: every progress update goes into ``sender``, for the runner to show."""
    if sender is not None:
        progress.install(sender.send)
