"""Each epoch's weights, kept so that the runner can score every epoch on the test fold.

For the evaluation variant ``best-epoch-on-test`` (:mod:`lidcbench.protocol.variants`):
some published code keeps the epoch with the best test score, and this measures
what that does. The choice is the runner's, which holds the labels; the method
only predicts, behind the isolation, and never sees a test label.

Every torch method's epochs pass through :func:`lidcbench.training.checkpoints.epochs`,
which calls :func:`after_epoch` with the live model. While :func:`recording`,
the model's weights after each epoch go to ``epoch-NNNN.pt`` in the job's own
folder (on disk, not in memory: a paper-profile ResNet-50 is ~100 MB an epoch).
After ``fit``, :func:`replay` loads each epoch's weights back into the same
model object and calls the method's ``predict``; the model ends with the last
epoch's weights, as ``fit`` left it. The folder is the job's checkpoint folder,
so a job resumed after a stop still has the epochs saved before it. Neither
the training loop nor the methods change.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lidcbench.errors import PluginError

PATTERN = "epoch-{:04d}.pt"


@dataclass
class Recording:
    """The epochs one fit saved: where, the model object they belong to and the last epoch seen."""

    folder: Path
    model: Any = None
    last_epoch: int = 0


_recording: ContextVar[Recording | None] = ContextVar("lidcbench_snapshots", default=None)


@contextlib.contextmanager
def recording(folder: Path | str | None) -> Iterator[Recording | None]:
    """Save each epoch's weights into ``folder`` while in this context (None: save nothing, yield None)."""
    if folder is None:
        yield None
        return
    state = Recording(Path(folder))
    state.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = _recording.set(state)
    try:
        yield state
    finally:
        _recording.reset(token)


def after_epoch(done: int, state: dict[str, Any]) -> None:
    """Called by :func:`lidcbench.training.checkpoints.epochs` after each epoch (``done`` epochs finished)."""
    current = _recording.get()
    if current is None:
        return
    model = state.get("model")
    if model is None or not hasattr(model, "state_dict"):
        return  # replay says so: a method whose epochs carry no model cannot be scored epoch by epoch
    import torch

    current.model, current.last_epoch = model, done
    weights = {name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()}
    path = current.folder / PATTERN.format(done)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        torch.save(weights, temporary)
        os.replace(temporary, path)  # a stop during the save leaves no half-written epoch
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def replay(state: Recording, predict: Callable[[], Any]) -> list[Any]:
    """Each epoch's predictions, in epoch order (item 0 is epoch 1): the epoch's weights loaded into the
    model, then ``predict()``. The model is left with the last epoch's weights."""
    import torch

    if state.model is None:
        raise PluginError("the method trained no epochs through lidcbench.training.checkpoints.epochs with a "
                          "model=... argument, so its epochs cannot be scored one by one (best-epoch-on-test).")
    epochs = range(1, state.last_epoch + 1)
    missing = [e for e in epochs if not (state.folder / PATTERN.format(e)).is_file()]
    if missing:
        raise PluginError(f"the weights of epoch(s) {missing[:5]} are missing from {state.folder}; rerun the job "
                          "with --force.")
    predictions = []
    for epoch in epochs:
        weights = torch.load(state.folder / PATTERN.format(epoch), map_location="cpu", weights_only=True)
        state.model.load_state_dict(weights)
        predictions.append(predict())
    return predictions


def discard(folder: Path | str | None) -> None:
    """Delete a job's epoch weights once its record is written."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
