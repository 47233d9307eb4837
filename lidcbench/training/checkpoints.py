"""Checkpoints that let a long training job stop and resume with the same result.

The fold job (:func:`lidcbench.running.fold.run_fold`) says where its checkpoint lives and
how often to save, through a context variable, the way :mod:`lidcbench.progress`
does for progress (and an environment variable, which a child process that runs
the method inherits). A method's epoch loop asks for its epochs here::

    for epoch in checkpoints.epochs(self.epochs, model=model, optimiser=optimiser,
                                    schedule=schedule, sampler=generator):
        ...one epoch...

If the job's checkpoint exists, the named objects and every global random
number generator are restored from it and the loop starts after its epoch;
every K epochs the loop saves them again (atomically). Saved per object: its
``state_dict()``, a ``torch.Generator``'s state, or a list's items (a loss
history); globally: Python's, NumPy's and torch's CPU and CUDA generators. So
the epochs after a resume draw the same numbers as they would have without the
stop, and the job ends with the same record (same device type). Outside a fold
job (a method used on its own) nothing is saved or read.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import secrets
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import snapshots

FORMAT = 2  # 2: NumPy's generator state as plain values, loaded with weights_only
CHECKPOINTS = "checkpoints"  # the folder under the cache root
ENVIRONMENT = "LIDCBENCH_CHECKPOINT"  # how a method's child process learns its job's checkpointing
DEFAULT_EVERY = 5  # epochs between saves: a paper-profile ResNet-50 checkpoint is ~300 MB


@dataclass(frozen=True)
class Checkpointing:
    """Where one job's checkpoint lives and how often to save it (picklable, so a child
    process that runs the method can enter :func:`saving_to` with the parent's value)."""

    path: Path
    every: int = DEFAULT_EVERY
    identity: str = ""  # the job's exact settings: a checkpoint saved under others is not resumed
    on_saved: Callable[[int], None] | None = None  # called with the epoch count after each save (tests)


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
        target = Checkpointing(Path(saved["path"]), saved["every"], saved["identity"])
    return target


@contextlib.contextmanager
def saving_to(target: Checkpointing | None) -> Iterator[None]:
    """Let :func:`epochs` calls in this context, and in processes started within it, resume from
    and save to ``target`` (None: neither)."""
    if target is not None and (not isinstance(target.every, int) or target.every < 1):
        raise ValueError(f"checkpoints every {target.every!r} epochs: give a whole number >= 1")
    token = _target.set(target)
    before = os.environ.pop(ENVIRONMENT, None)
    if target is not None:
        os.environ[ENVIRONMENT] = json.dumps({"path": str(target.path), "every": target.every,
                                              "identity": target.identity})
    try:
        yield
    finally:
        _target.reset(token)
        os.environ.pop(ENVIRONMENT, None)
        if before is not None:
            os.environ[ENVIRONMENT] = before


def epochs(total: int, start: int = 0, **state: Any) -> Iterator[int]:
    """The epoch numbers still to train (from ``start``, or after the job's checkpoint's epoch if it has
    one), saving a checkpoint every K epochs.

    ``state``: the objects whose state makes up training (model, optimiser,
    schedule, the sampler's generator, a history list), by name.
    """
    target = current()
    if target is not None and target.path.is_file():
        restored = _restore(target, state)
        if restored:
            start = restored
            print(f"lidcbench: resumed from {target.path} after epoch {start} of {total}", file=sys.stderr,
                  flush=True)
    for epoch in range(start, total):
        yield epoch  # the caller trains one epoch; we continue here when it asks for the next
        done = epoch + 1
        snapshots.after_epoch(done, state)  # best-epoch-on-test; before the checkpoint, so a resume has it
        if target is not None and done % target.every == 0 and done < total:
            _save(target, state, done)
            if target.on_saved is not None:
                target.on_saved(done)


def discard(target: Checkpointing | None) -> None:
    """Delete the checkpoint (and its job's folder, once empty) once the job's record is written."""
    if target is not None:
        target.path.unlink(missing_ok=True)
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


def _save(target: Checkpointing, state: dict[str, Any], epoch: int) -> None:
    import torch

    path = target.path
    document = {"format": FORMAT, "identity": target.identity, "epoch": epoch,
                "objects": {name: _state_of(v) for name, v in state.items()}, "generators": _global_generators()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        torch.save(document, temporary)
        os.replace(temporary, path)  # a stop during the save leaves the previous checkpoint whole
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _restore(target: Checkpointing, state: dict[str, Any]) -> int:
    """Load the checkpoint into ``state``; returns its epoch (0, and a fresh start, if it is not this job's)."""
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
    if (document.get("format"), document.get("identity"), set(document.get("objects", ()))) != \
            (FORMAT, target.identity, set(state)):
        print(f"lidcbench: {target.path} was saved under other parameters; starting the job afresh",
              file=sys.stderr, flush=True)
        return 0
    for name, value in state.items():
        _load_into(value, document["objects"][name])
    _set_global_generators(document["generators"])
    return int(document["epoch"])
