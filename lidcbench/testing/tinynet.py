"""A tiny network trained epoch by epoch, for tests of checkpoints, resume and failing jobs.

Not a baseline: a logistic regression on two patch statistics, fitted by
minibatch SGD with momentum, a step schedule and a little input noise, so that
every piece of state a real training loop carries (weights, optimiser,
schedule, sampler and global generators) decides its predictions.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from lidcbench.plugins.method import FoldData, Method, prediction_frame
from lidcbench.plugins.params import at_least, optional, positive
from lidcbench.training import checkpoints
from lidcbench.training.torch_setup import seed_everything

from .tiny import _patch_statistics


class TinyNetMethod(Method):
    """Patch mean and bright fraction -> a logistic unit trained by SGD over epochs, with checkpoints."""

    param_checks = {"epochs": at_least(1), "lr": positive(), "batch_size": at_least(1), "noise": at_least(0),
                    "epoch_pause": at_least(0), "fail_at_epoch": optional(at_least(0)), "seed": at_least(0)}

    def __init__(self, epochs: int = 4, lr: float = 0.5, batch_size: int = 32, noise: float = 0.1,
                 epoch_pause: float = 0.0, fail_at_epoch: int | None = None, seed: int = 0):
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.noise = noise
        self.epoch_pause = epoch_pause  # seconds to wait after each epoch, so a test can interrupt mid-training
        self.fail_at_epoch = fail_at_epoch  # raise at the start of this epoch (tests of failure reports)
        self.seed = seed

    def _features(self, data: FoldData) -> torch.Tensor:
        return torch.from_numpy(((_patch_statistics(data) - self.centre_) / self.scale_).astype(np.float32))

    def fit(self, train: FoldData) -> TinyNetMethod:
        from lidcbench import progress

        generator = seed_everything(self.seed)
        statistics = _patch_statistics(train)
        self.centre_, self.scale_ = statistics.mean(axis=0), statistics.std(axis=0) + 1e-6
        features = self._features(train)
        labels = torch.from_numpy(train.targets()["label"].to_numpy(dtype=np.float32))
        model = nn.Linear(features.shape[1], 1)
        optimiser = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=0.9)
        schedule = torch.optim.lr_scheduler.StepLR(optimiser, step_size=2, gamma=0.5)
        loss_function = nn.BCEWithLogitsLoss()
        done = 0
        with progress.task("epochs", total=self.epochs) as advance:
            for epoch in checkpoints.epochs(self.epochs, model=model, optimiser=optimiser, schedule=schedule,
                                            sampler=generator):
                if epoch and not done:  # resumed from a checkpoint: its epochs count, untimed
                    advance(epoch, resumed=True)
                done = epoch + 1
                if self.fail_at_epoch == epoch:
                    raise RuntimeError(f"tiny-net fails at epoch {epoch}, as fail_at_epoch asks")
                total_loss = 0.0
                for batch in torch.randperm(len(labels), generator=generator).split(self.batch_size):
                    jitter = self.noise * torch.randn(len(batch), features.shape[1])  # the global generator
                    optimiser.zero_grad()
                    loss = loss_function(model(features[batch] + jitter)[:, 0], labels[batch])
                    loss.backward()
                    optimiser.step()
                    total_loss += loss.item() * len(batch)
                schedule.step()
                advance(images=len(labels), bce=total_loss / len(labels))
                time.sleep(self.epoch_pause)
        self.model_ = model.eval()
        return self

    @torch.inference_mode()
    def predict(self, test: FoldData):
        if len(test.patches.images) == 0:  # a fold with no test patches
            return prediction_frame(test, np.empty(0))
        return prediction_frame(test, torch.sigmoid(self.model_(self._features(test))[:, 0]).numpy())
