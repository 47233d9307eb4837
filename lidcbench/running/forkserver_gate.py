"""The forkserver's door, closed to the processes it started.

A fold's child is forked from multiprocessing's forkserver, which listens on a
Unix socket in ``/tmp``. Landlock (ABI 7) does not stop a confined process from
connecting to a socket by path, and whoever connects can have the forkserver
fork a process that runs code of its choosing, outside the wall. This module,
imported in the forkserver before it starts listening (it is first in the
forkserver's preload list, :mod:`.isolation`), makes the forkserver refuse any
connection from one of its own descendants (the peer's process id comes from
the kernel, ``SO_PEERCRED``), and makes it the subreaper of its descendants, so
that a grandchild whose parent exits stays one. Imported anywhere else, it
does nothing.
"""
from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
import sys

_PR_SET_CHILD_SUBREAPER = 36


def _in_the_forkserver() -> bool:
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_code.co_filename.endswith(os.path.join("multiprocessing",
                                                                                            "forkserver.py")):
            return True
        frame = frame.f_back
    return False


def is_descendant(pid: int, ancestor: int) -> bool:
    """Whether process ``pid`` descends from ``ancestor`` (read from /proc; False once it is gone)."""
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            return False
        pid = int(stat[stat.rindex(b")") + 2:].split()[1])  # the field after the state: the parent
        if pid == ancestor:
            return True
    return False


class _GatedSocket(socket.socket):
    def accept(self):
        connection, address = super().accept()
        if self.family == socket.AF_UNIX:
            credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            peer = struct.unpack("3i", credentials)[0]
            if peer == os.getpid() or is_descendant(peer, os.getpid()):
                connection.close()  # the forkserver's loop ignores an aborted connection
                raise ConnectionAbortedError(errno.ECONNABORTED, f"refused a fork request from process {peer}")
        return connection, address


class _SocketModule:
    """The forkserver's view of :mod:`socket`, with the gated socket class."""

    def __getattr__(self, name):
        return _GatedSocket if name == "socket" else getattr(socket, name)


def _install() -> None:
    from multiprocessing import forkserver

    forkserver.socket = _SocketModule()  # main() makes its listener after the preload imports
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


if sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED") and _in_the_forkserver():
    _install()
