"""What the volume networks (``cnn3d``, ``cnn25d``) share: one malignancy logit on a network of cubes,
trained by the shared loop (:mod:`lidcbench.training.loop`) on cubes held on the device and augmented
there (:mod:`lidcbench.training.volumedata`: shifts, flips, in-plane 90-degree rotations), class-balanced."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lidcbench.method import FoldData, Method, prediction_frame
from lidcbench.training.loop import TrainLoop, adam, autocast
from lidcbench.training.torch_setup import resolve_device, seed_everything
from lidcbench.training.volumedata import VolumeSet, centre_volume_batches


def _loss(model: nn.Module, cubes: torch.Tensor, targets: torch.Tensor):
    loss = F.binary_cross_entropy_with_logits(model(cubes).float(), targets)
    return loss, {"cls": loss.detach()}


class CubeLoop(TrainLoop):
    """The shared loop for batches of cubes (B, 1, D, H, W): each step as the loop's own, but the batch goes to
    the network as it is, since the loop's channels_last layout (``prepare_images``, GPU only) is for 4D
    images and a 5D batch refuses it."""

    def step(self, images: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        self.optimiser.zero_grad(set_to_none=True)
        with autocast(self.device):
            loss, parts = self._loss(self.model, images, targets)
        loss.backward()
        self.optimiser.step()
        return parts


class VolumeCnn(Method):
    """Base of the volume networks; a subclass says how its backbone is made (``_backbone``)."""

    patch_kind = "volume"

    @classmethod
    def default_profile(cls, device: str) -> str:
        return "paper" if device.startswith("cuda") else "cpu"

    def _backbone(self, pretrained: str) -> tuple[nn.Module, str]:
        raise NotImplementedError

    def _network(self, pretrained: str) -> tuple[nn.Sequential, str]:
        backbone, weights = self._backbone(pretrained)
        head = nn.Linear(backbone.num_features, 1)
        nn.init.xavier_uniform_(head.weight)
        nn.init.zeros_(head.bias)
        return nn.Sequential(backbone, head), weights

    def _optimiser(self, network: nn.Sequential, device: torch.device) -> torch.optim.Adam:
        backbone, head = network
        return adam([{"params": backbone.parameters(), "lr": self.lr_backbone},
                     {"params": head.parameters(), "lr": self.lr_head}], device)

    def training_loop(self, train: FoldData, device: torch.device) -> TrainLoop:
        """The fit's training state, ready to run (also what `lidcbench bench` times for a few steps)."""
        network, self.weights_ = self._network(self.pretrained)
        # Not the loop's prepare_model: channels_last is for 4D tensors, and these weights are 5D.
        model = network.to(device)
        labels = train.targets()["label"].to_numpy()
        data = VolumeSet.on(device, train.patches.images, labels[:, None], labels, self.crop)
        return CubeLoop(model, self._optimiser(network, device), data, _loss, batch_size=self.batch_size,
                        epochs=self.epochs, lr_steps=self.lr_steps, seed=self.seed, compile=self.compile)

    def fit(self, train: FoldData) -> VolumeCnn:
        seed_everything(self.seed)
        loop = self.training_loop(train, resolve_device(self.device))
        self.model_ = loop.run()
        self.history_ = loop.history
        return self

    def bench_workload(self, prepare):
        """The untrained network and one training step, for `lidcbench bench`."""
        from lidcbench.bench.throughput import Workload

        network, _ = self._network("none")
        model = prepare(network)
        optimiser = self._optimiser(network, next(network.parameters()).device)

        def train_step(cubes):
            targets = (torch.arange(len(cubes), device=cubes.device) % 2).float()[:, None]
            return _loss(model, cubes, targets)[0]

        return Workload(model, self.crop, train_step, optimiser, unit="volumes", dims=3)

    @torch.inference_mode()
    def predict(self, test: FoldData):
        device = next(self.model_.parameters()).device
        logits = []
        for cubes in centre_volume_batches(test.patches.images, self.crop, max(self.batch_size, 32), device):
            with autocast(device):
                logits.append(self.model_(cubes).float().cpu())
        malignancy = torch.sigmoid(torch.cat(logits)).numpy()[:, 0] if logits else np.empty(0)
        return prediction_frame(test, malignancy)
