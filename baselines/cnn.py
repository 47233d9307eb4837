"""A plain CNN classifier: the paper's single-task reference point.

A timm ResNet with one logit for malignancy, no attributes, trained with
cross-entropy on class-balanced patches.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lidcbench.method import FoldData, Method, prediction_frame
from lidcbench.params import at_least, device_name, each, no_larger, optional, positive, timm_model, weights_choice
from lidcbench.training.devicedata import TrainingSet, centre_batches
from lidcbench.training.loop import TrainLoop, adam, autocast, prepare_images, prepare_model
from lidcbench.training.torch_setup import create_backbone, limit_slices_per_nodule, resolve_device, seed_everything


def _loss(model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
    loss = F.binary_cross_entropy_with_logits(model(images).float(), targets)
    return loss, {"cls": loss.detach()}


class CnnMethod(Method):
    """Plain timm ResNet classifier of malignancy (no attributes)."""

    profiles = {
        # Fits the 2-core CPU, as MTMR-Net's cpu profile: ResNet-18 on 64-pixel patches with
        # 56-pixel crops, the 3 central slices of each nodule, 5 epochs with the x0.1 step after 4.
        "cpu": {"backbone": "resnet18", "patch_size": 64, "crop": 56, "epochs": 5, "lr_steps": (4,),
                "max_slices_per_nodule": 3},
        # The paper's training set-up (sec. III-B) on a single-task ResNet-50.
        "paper": {"backbone": "resnet50", "patch_size": 256, "crop": 224, "epochs": 150, "lr_steps": (50, 100),
                  "max_slices_per_nodule": None},
    }

    param_checks = {
        "backbone": timm_model(), "pretrained": weights_choice(), "patch_size": at_least(8), "crop": at_least(8),
        "epochs": at_least(1), "lr_head": positive(), "lr_backbone": positive(),
        "lr_steps": each(at_least(1), increasing=True), "max_slices_per_nodule": optional(at_least(1)),
        "device": device_name(),
        "batch_size": at_least(2),  # batch norm needs two samples
    }
    param_relations = (no_larger("crop", "patch_size"),)

    def __init__(self, backbone: str = "resnet18", pretrained: str = "auto", patch_size: int = 64, crop: int = 56,
                 epochs: int = 5, batch_size: int = 32, lr_head: float = 3e-3, lr_backbone: float = 3e-5,
                 lr_steps: tuple[int, ...] = (4,), max_slices_per_nodule: int | None = 3, device: str = "auto",
                 seed: int = 0, compile: bool = False):
        self.backbone = backbone
        self.pretrained = pretrained
        self.patch_size = patch_size
        self.crop = crop
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_head = lr_head
        self.lr_backbone = lr_backbone
        self.lr_steps = lr_steps
        self.max_slices_per_nodule = max_slices_per_nodule
        self.device = device
        self.seed = seed
        self.compile = compile  # torch.compile the forward pass and loss

    @classmethod
    def default_profile(cls, device: str) -> str:
        return "paper" if device.startswith("cuda") else "cpu"

    def _network(self, pretrained: str) -> tuple[nn.Sequential, str]:
        backbone, weights = create_backbone(self.backbone, pretrained)
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
        model = prepare_model(network, device)
        keep = limit_slices_per_nodule(train.patches.nodule_ids, self.max_slices_per_nodule, self.seed)
        labels = train.targets()["label"].to_numpy()[keep]
        data = TrainingSet.on(device, train.patches.images[keep], labels[:, None], labels, self.crop)
        return TrainLoop(model, self._optimiser(network, device), data, _loss, batch_size=self.batch_size,
                         epochs=self.epochs, lr_steps=self.lr_steps, seed=self.seed, compile=self.compile)

    def fit(self, train: FoldData) -> CnnMethod:
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

        def train_step(images):
            targets = (torch.arange(len(images), device=images.device) % 2).float()[:, None]
            return _loss(model, images, targets)[0]

        return Workload(model, self.crop, train_step, optimiser)

    @torch.inference_mode()
    def predict(self, test: FoldData):
        device = next(self.model_.parameters()).device
        logits = []
        for images in centre_batches(test.patches.images, self.crop, max(self.batch_size, 64), device):
            with autocast(device):
                logits.append(self.model_(prepare_images(images)).float().cpu())
        malignancy = torch.sigmoid(torch.cat(logits)).numpy()[:, 0] if logits else np.empty(0)
        return prediction_frame(test, malignancy)
