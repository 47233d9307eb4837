"""The one training loop of the torch methods (``mtmr`` and its ablations, ``cnn``).

A :class:`TrainLoop` holds everything a fit carries from one epoch to the
next: the model, the optimiser, the learning-rate schedule, the epoch reached,
the generator that draws the batches, and the per-epoch history. Nothing else
is needed to continue a fit, so saving and restoring this one object is a
checkpoint.

The step keeps Python and the host out of the way of the device:

* batches are drawn on the device (:mod:`.devicedata`);
* an L2 penalty ``eta * ||W||^2`` is the optimiser's weight decay ``2 * eta``
  (with Adam's coupled decay, the same gradient) instead of a Python loop
  over every parameter;
* Adam is fused on CUDA and multi-tensor (``foreach``) elsewhere;
* the loss parts are summed on the device and read once an epoch;
* ``compile=True`` runs the forward pass and loss through ``torch.compile``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from lidcbench import progress

from . import checkpoints
from .devicedata import TrainingSet

# loss(model, images (B, 1, crop, crop), targets (B, T)) -> (loss, {name: detached part})
LossFunction = Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def adam(groups: Sequence[dict[str, Any]], device: torch.device, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam over parameter ``groups``; fused kernels on CUDA, multi-tensor kernels elsewhere."""
    fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
    return torch.optim.Adam(groups, weight_decay=weight_decay, **fast)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    # bf16 on a GPU; the CPU stays fp32.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_model(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` on ``device``, channels_last on a GPU (faster convolutions under bf16)."""
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def prepare_images(images: torch.Tensor) -> torch.Tensor:
    return images.contiguous(memory_format=torch.channels_last) if images.is_cuda else images


class TrainLoop:
    """One fit's training state and the loop that advances it, epoch by epoch.

    ``extra_history(model)`` may add figures to each epoch's history row
    (device tensors, read with the loss parts)."""

    def __init__(self, model: nn.Module, optimiser: torch.optim.Optimizer, data: TrainingSet, loss: LossFunction,
                 *, batch_size: int, epochs: int, lr_steps: Sequence[int], seed: int, compile: bool = False,
                 extra_history: Callable[[nn.Module], dict[str, torch.Tensor]] | None = None):
        self.model = model
        self.optimiser = optimiser
        self.schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones=list(lr_steps), gamma=0.1)
        self.data = data
        self.batch_size = batch_size
        self.epochs = epochs
        self.epoch = 0  # epochs finished
        self.device = data.images.device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.history: list[dict[str, float]] = []
        self.images_last_epoch = 0  # for the progress line's images/s
        self.compiled = compile
        self._loss = torch.compile(loss) if compile else loss
        self._extra_history = extra_history

    def step(self, images: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on one batch; returns the loss parts, still on the device."""
        self.optimiser.zero_grad(set_to_none=True)
        with autocast(self.device):
            loss, parts = self._loss(self.model, prepare_images(images), targets)
        loss.backward()
        self.optimiser.step()
        return parts

    def train_on(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> tuple[dict[str, torch.Tensor], int]:
        """A step on each batch; the loss parts summed on the device, and the number of steps."""
        totals: dict[str, torch.Tensor] = {}
        steps = self.images_last_epoch = 0
        for images, targets in batches:
            for name, value in self.step(images, targets).items():
                totals[name] = totals[name] + value if name in totals else value.clone()
            steps += 1
            self.images_last_epoch += len(images)  # a shape, known on the host: no device sync
        return totals, steps

    def run_epoch(self) -> dict[str, float]:
        """One epoch (about as many patches as the training set holds); returns its history row."""
        self.model.train()
        totals, steps = self.train_on(self.data.epoch(self.batch_size, self.generator))
        self.schedule.step()
        self.epoch += 1
        row = {name: value / max(steps, 1) for name, value in totals.items()}
        if self._extra_history:
            with torch.no_grad():
                row.update(self._extra_history(self.model))
        names = list(row)
        values = torch.stack([row[n].float() for n in names]).tolist() if names else []  # the epoch's one read
        self.history.append(dict(zip(names, values)))
        return self.history[-1]

    def run(self) -> nn.Module:
        """Train until ``epochs`` are done (from wherever ``epoch`` stands); returns the model in eval mode."""
        state = {"model": self.model, "optimiser": self.optimiser, "schedule": self.schedule,
                 "sampler": self.generator, "history": self.history}
        with progress.task("epochs", total=self.epochs) as advance:
            done = 0
            # Inside a fold job: resume from its checkpoint, and save one every K epochs (issue 14).
            for epoch in checkpoints.epochs(self.epochs, start=self.epoch, **state):
                if epoch > done:  # the epochs a resume restored: counted, not timed
                    advance(epoch - done, resumed=True)
                self.epoch = epoch
                row = self.run_epoch()
                advance(images=self.images_last_epoch, **row)  # the loss parts, read once an epoch already
                done = self.epoch
        return self.model.eval()
