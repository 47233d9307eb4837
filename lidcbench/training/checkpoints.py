"""Checkpoints that let a long training job stop and resume with the same result.

The fold job (:func:`lidcbench.running.fold.run_fold`) says where its checkpoint lives and
how often to save, through a context variable, the way :mod:`lidcbench.progress`
does for progress (and an environment variable, which a child process that runs
the method inherits). A method's epoch loop asks for its epochs here::

    for epoch in checkpoints.epochs(self.epochs, model=model, optimiser=optimiser,
                                    schedule=schedule, sampler=generator):
        ...one epoch...

If the job's checkpoint exists and was saved under the job's identity (the
code, the data, the device type and the parameters: :func:`identity_difference`),
the named objects and every global random number generator are restored from
it and the loop starts after its epoch; otherwise the job starts afresh with a
one-line note saying which part differed. The loop saves them again
(atomically) once :data:`DEFAULT_MINUTES` of training have passed since the
last save (so an epoch longer than that is always followed by a save), and
every K epochs where the job asks for that. Saved per object: its
``state_dict()``, a ``torch.Generator``'s state, or a list's items (a loss
history); globally: Python's, NumPy's and torch's CPU and CUDA generators. So
the epochs after a resume draw the same numbers as they would have without the
stop, and the job ends with the same record (same device type). Outside a fold
job (a method used on its own) nothing is saved or read.

The runner holds a lock on the job's checkpoint folder while the job runs
(:func:`held`), so that two invocations of one job never share a checkpoint,
and keeps the training seconds and the epoch a resume started from
(:func:`timing`) for the job's record.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lidcbench.errors import CheckpointBusyError

from . import snapshots

# 3: the identity by part (code, data, device, parameters) and the training seconds so far;
# 2: NumPy's generator state as plain values, loaded with weights_only
FORMAT = 3
CHECKPOINTS = "checkpoints"  # the folder under the cache root
ENVIRONMENT = "LIDCBENCH_CHECKPOINT"  # how a method's child process learns its job's checkpointing
# Minutes of training between saves: a stop loses at most this much work, and a save (a paper-profile
# ResNet-50 checkpoint is ~300 MB, about a second) costs well under 1% of it.
DEFAULT_MINUTES = 10.0
LOCK = "lock"  # the lock file beside the checkpoint (held)
_clock = time.perf_counter  # the clock of save intervals and training seconds (a test may replace it)


@dataclass(frozen=True)
class Checkpointing:
    """Where one job's checkpoint lives and when to save it (picklable, so a child
    process that runs the method can enter :func:`saving_to` with the parent's value)."""

    path: Path
    every: int | None = None  # epochs between saves, besides the time rule (None: by time only)
    # What makes a checkpoint this job's: part name -> value (job_identity); a checkpoint saved under
    # another value of any part is not resumed.
    identity: dict[str, str] = field(default_factory=dict)
    on_saved: Callable[[int], None] | None = None  # called with the epoch count after each save (tests)
    minutes: float | None = DEFAULT_MINUTES  # minutes of training between saves (None: by epochs only)
    label: str = ""  # the job, for notes: "mtmr fold 0 seed 0"


_target: ContextVar[Checkpointing | None] = ContextVar("lidcbench_checkpoint", default=None)


def checkpoint_path(record_path: Path) -> Path:
    """The checkpoint of the job whose record goes to ``record_path``: in the cache folder (shared by a
    cluster's nodes like the patches), not beside the record, because a method's process is kept out of
    the results folder (records list test labels). Each job has a folder of its own, the only place its
    method's process may write to (lidcbench.running.wall): another job's checkpoint holds a model
    trained on this job's test labels."""
    from lidcbench.cachedir import cache_root

    record_path = Path(record_path)
    results = hashlib.sha256(str(record_path.resolve().parents[2]).encode()).hexdigest()[:8]
    setting, method = record_path.parent.parent.name, record_path.parent.name
    return cache_root() / CHECKPOINTS / setting / method / f"{record_path.stem}-{results}" / "checkpoint"


def prepare_folder(target: Checkpointing) -> Path:
    """Create the job's checkpoint folder, readable and writable by this user only; returns it."""
    folder = target.path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def current() -> Checkpointing | None:
    """The checkpointing of the fold job in progress: the context variable, or, in a child process
    that runs the method (lidcbench.running.isolation), the environment variable the runner set."""
    target = _target.get()
    if target is None and os.environ.get(ENVIRONMENT):
        saved = json.loads(os.environ[ENVIRONMENT])
        target = Checkpointing(Path(saved["path"]), saved["every"], saved["identity"], minutes=saved["minutes"],
                               label=saved["label"])
    return target


@contextlib.contextmanager
def saving_to(target: Checkpointing | None) -> Iterator[None]:
    """Let :func:`epochs` calls in this context, and in processes started within it, resume from
    and save to ``target`` (None: neither)."""
    if target is not None:
        check_schedule(target.every, target.minutes)
    token = _target.set(target)
    before = os.environ.pop(ENVIRONMENT, None)
    if target is not None:
        os.environ[ENVIRONMENT] = json.dumps({"path": str(target.path), "every": target.every,
                                              "identity": target.identity, "minutes": target.minutes,
                                              "label": target.label})
    try:
        yield
    finally:
        _target.reset(token)
        os.environ.pop(ENVIRONMENT, None)
        if before is not None:
            os.environ[ENVIRONMENT] = before


def check_schedule(every: int | None, minutes: float | None) -> None:
    """Raise ValueError unless ``every`` (epochs) and ``minutes`` are each None or positive."""
    if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
        raise ValueError(f"checkpoints every {every!r} epochs: give a whole number >= 1")
    if minutes is not None and (not isinstance(minutes, (int, float)) or not minutes > 0):
        raise ValueError(f"checkpoints every {minutes!r} minutes: give a number > 0")


def epochs(total: int, start: int = 0, **state: Any) -> Iterator[int]:
    """The epoch numbers still to train (from ``start``, or after the job's checkpoint's epoch if it has
    one), saving a checkpoint when it is due (:func:`_due`), never after the last epoch (the record follows).

    ``state``: the objects whose state makes up training (model, optimiser,
    schedule, the sampler's generator, a history list), by name.
    """
    target = current()
    part = _part.get() or TrainingPart()  # outside timing(): this loop's own clock
    if target is not None and target.path.is_file():
        restored = _restore(target, state, part)
        if restored:
            start = restored
            print(f"lidcbench: resumed from {target.path} after epoch {start} of {total}", file=sys.stderr,
                  flush=True)
    last_save = _clock()
    for epoch in range(start, total):
        yield epoch  # the caller trains one epoch; we continue here when it asks for the next
        done = epoch + 1
        snapshots.after_epoch(done, state)  # best-epoch-on-test; before the checkpoint, so a resume has it
        if target is not None and done < total and _due(target, done, _clock() - last_save):
            _save(target, state, done, part.seconds())
            last_save = _clock()
            if target.on_saved is not None:
                target.on_saved(done)


def _due(target: Checkpointing, done: int, seconds_since_save: float) -> bool:
    """After ``done`` epochs: every K epochs if asked, and once the minutes since the last save have passed
    (so always after an epoch that alone took that long)."""
    by_epochs = target.every is not None and done % target.every == 0
    return by_epochs or (target.minutes is not None and seconds_since_save >= 60 * target.minutes)


def discard(target: Checkpointing | None) -> None:
    """Delete the checkpoint, its lock file and its job's folder (once empty) once the job's record is
    written (under the lock: :func:`held`)."""
    if target is not None:
        target.path.unlink(missing_ok=True)
        target.path.with_name(LOCK).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            target.path.parent.rmdir()


def _state_of(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Generator):
        return value.get_state()
    if hasattr(value, "state_dict"):
        return value.state_dict()
    if isinstance(value, list):
        return list(value)
    raise TypeError(f"cannot checkpoint a {type(value).__name__}: give objects with state_dict(), "
                    "torch Generators or lists")


def _load_into(value: Any, saved: Any) -> None:
    import torch

    if isinstance(value, torch.Generator):
        value.set_state(saved)
    elif hasattr(value, "load_state_dict"):
        value.load_state_dict(saved)
    else:
        value[:] = saved


def _global_generators() -> dict[str, Any]:
    import numpy as np
    import torch

    # NumPy's state as plain values, so that loading needs no unpickling of NumPy objects (weights_only).
    name, keys, position, has_gauss, cached = np.random.get_state()
    states = {"python": random.getstate(), "numpy": (name, keys.tolist(), position, has_gauss, cached),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_global_generators(states: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(states["python"])
    name, keys, position, has_gauss, cached = states["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _save(target: Checkpointing, state: dict[str, Any], epoch: int, seconds: float) -> None:
    import torch

    path = target.path
    document = {"format": FORMAT, "identity": dict(target.identity), "epoch": epoch, "seconds": float(seconds),
                "objects": {name: _state_of(v) for name, v in state.items()}, "generators": _global_generators()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        torch.save(document, temporary)
        os.replace(temporary, path)  # a stop during the save leaves the previous checkpoint whole
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _restore(target: Checkpointing, state: dict[str, Any], part: TrainingPart) -> int:
    """Load the checkpoint into ``state`` and note its epoch and seconds in ``part``; returns its epoch
    (0, and a fresh start, if it is not this job's)."""
    import torch

    try:
        # Tensors and plain values only: a planted file cannot run code here (no arbitrary unpickling).
        document = torch.load(target.path, map_location="cpu", weights_only=True)
        if not isinstance(document, dict):
            raise ValueError("not a checkpoint")
    except Exception as error:  # noqa: BLE001 - any unreadable file means a fresh start, said in one line
        print(f"lidcbench: {target.path} is not a valid checkpoint ({type(error).__name__}: "
              f"{str(error).splitlines()[0] if str(error) else ''}); starting the job afresh", file=sys.stderr,
              flush=True)
        return 0
    difference = _difference(document, target, state)
    if difference:
        print(f"lidcbench: checkpoint for {target.label or target.path} not resumed: {difference}; starting afresh",
              file=sys.stderr, flush=True)
        return 0
    for name, value in state.items():
        _load_into(value, document["objects"][name])
    _set_global_generators(document["generators"])
    part.resumed_from_epoch, part.seconds_before = int(document["epoch"]), float(document["seconds"])
    return part.resumed_from_epoch


def _difference(document: dict[str, Any], target: Checkpointing, state: dict[str, Any]) -> str | None:
    """Why ``document`` is not this job's checkpoint, in a few words; None if it is."""
    if document.get("format") != FORMAT:
        return f"saved in checkpoint format {document.get('format')!r}, this lidcbench reads {FORMAT}"
    saved = document.get("identity")
    if not isinstance(saved, dict):
        return "it carries no identity"
    difference = identity_difference(saved, target.identity)
    if difference:
        return difference
    if set(document.get("objects", ())) != set(state):
        return (f"the method keeps other state (saved {', '.join(sorted(document.get('objects', ())))}; "
                f"now {', '.join(sorted(state))})")
    return None


def identity_difference(saved: dict[str, str], now: dict[str, str]) -> str | None:
    """The first part of two job identities that differs, said for a person ("method code differs
    (saved 9e28aa315718, now 1b2c0d4e5f60)"); None if they are the same."""
    for part in dict.fromkeys([*now, *saved]):
        before, after = saved.get(part), now.get(part)
        if before == after:
            continue
        if part == "parameters" and before is not None and after is not None:
            return f"parameters differ ({_changed_parameters(before, after)})"
        return f"{part} differs (saved {before or 'nothing'}, now {after or 'nothing'})"
    return None


def _changed_parameters(before: str, after: str) -> str:
    """``before`` and ``after``: parameters as JSON objects; the names whose values differ, with both values."""
    old, new = json.loads(before), json.loads(after)
    changed = [name for name in sorted({*old, *new}) if old.get(name) != new.get(name)]
    return "; ".join(f"{name}: saved {old.get(name)!r}, now {new.get(name)!r}" for name in changed)


# The training time of a job over its parts (a part: one process's run, up to a stop or to the end), so a
# resumed record says where it resumed and counts the seconds of every part. Kept apart from saving and
# restoring above: the runner's side of a job.

@dataclass
class TrainingPart:
    """This process's part of a job's training: when it began, and what a restored checkpoint brought."""

    started: float = field(default_factory=lambda: _clock())
    resumed_from_epoch: int | None = None  # the epoch a checkpoint was restored at (None: a fresh start)
    seconds_before: float = 0.0  # the training seconds of the earlier parts, up to their last save

    def seconds(self) -> float:
        """The job's training seconds so far: the earlier parts' and this one's."""
        return self.seconds_before + (_clock() - self.started)


_part: ContextVar[TrainingPart | None] = ContextVar("lidcbench_training_part", default=None)


@contextlib.contextmanager
def timing() -> Iterator[TrainingPart]:
    """Time a method's fit and predict as one part of its job; a checkpoint restored within says its epoch
    and the earlier parts' seconds in the part yielded."""
    part = TrainingPart()
    token = _part.set(part)
    try:
        yield part
    finally:
        _part.reset(token)


# One invocation of a job at a time: the lock beside its checkpoint. Kept apart from saving and restoring.

@contextlib.contextmanager
def held(target: Checkpointing) -> Iterator[None]:
    """Hold the lock beside ``target``'s checkpoint while the job runs: another invocation of the same job
    (another terminal, a second `lidcbench run`) raises :class:`CheckpointBusyError` at once rather than
    share and overwrite the checkpoint. An advisory ``flock``, released by the kernel when the holder
    ends however it ends. Where there is no ``fcntl`` (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    folder = prepare_folder(target)
    lock = folder / LOCK
    while True:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 200).decode(errors="replace").strip() or "another process"
            os.close(descriptor)
            raise CheckpointBusyError(f"{target.label or target.path.parent} is being run by another lidcbench "
                                      f"({holder}); wait for it to end, or stop it and rerun") from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock).st_ino == os.fstat(descriptor).st_ino:
                break  # the file is still the lock: a holder that finished unlinks it (discard) before letting go
        os.close(descriptor)
    try:
        import socket

        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"process {os.getpid()} on {socket.gethostname()}".encode())
        yield
    finally:
        os.close(descriptor)


def saved_epoch(path: Path) -> int | None:
    """The epoch the checkpoint at ``path`` was saved after; None if there is none (or it is unreadable).
    Its tensors are mapped, not read: quick even for a large model."""
    if not Path(path).is_file():
        return None
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["epoch"])
    except Exception:  # noqa: BLE001 - not a checkpoint this lidcbench can read: none to resume from
        return None
