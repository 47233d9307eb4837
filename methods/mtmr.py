"""MTMR-Net (Liu et al., IEEE TMI 2019) and its two ablations, as lidcbench methods.

``mtmr``: cross-entropy + attribute MSE + margin ranking, Siamese pairs.
``mtmr-reg``: without the ranking loss. ``mtmr-rank``: without the attribute
regression (so it predicts no attributes). The network, the losses and the
deviations from the paper as printed are in :mod:`methods.mtmr_model`.

Training follows the paper's section III-B with one documented choice: the
paper's text gives 3e-3 to the feature extractor and 3e-5 to the heads, the
authors' code the opposite; the code's (3e-3 heads, 3e-5 backbone, the usual
fine-tuning choice) is used. No checkpoint and no threshold is chosen on the
test fold: the last epoch's weights predict.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.utils.data import DataLoader

from lidcbench import progress
from lidcbench.attributes import ATTRIBUTE_NAMES
from lidcbench.executors import checkpoints
from lidcbench.method import FoldData, Method, prediction_frame
from lidcbench.training import (PatchDataset, balanced_sampler, create_backbone, limit_slices_per_nodule,
                                resolve_device, seed_everything)

from .mtmr_model import MtmrNet, total_loss

_TARGET_COLUMNS = ["label", *(f"target_{name}" for name in ATTRIBUTE_NAMES), "target_malignancy"]


class Mtmr(Method):
    """MTMR-Net: multi-task ResNet with margin ranking loss on Siamese pairs."""

    predicts_attributes = True
    profiles = {
        # Fits `lidcbench run mtmr --folds all` into ~15 minutes on a 2-core CPU, where
        # `lidcbench bench mtmr --device cpu` measured ~72 pairs/s: ResNet-18 instead of
        # ResNet-50, 64-pixel patches with 56-pixel crops instead of 256/224, the 3 central
        # slices of each nodule, 16 pairs a batch, 5 epochs with the x0.1 step after 4.
        "cpu": {"backbone": "resnet18", "patch_size": 64, "crop": 56, "epochs": 5, "pairs_per_batch": 16,
                "lr_steps": (4,), "max_slices_per_nodule": 3},
        # Section III-B: ResNet-50, 256-pixel patches, random 224 crops, 150 epochs, batch 32, x0.1 steps.
        "paper": {"backbone": "resnet50", "patch_size": 256, "crop": 224, "epochs": 150, "pairs_per_batch": 32,
                  "lr_steps": (50, 100), "max_slices_per_nodule": None},
    }

    def __init__(self, backbone: str = "resnet18", pretrained: str = "auto", patch_size: int = 64, crop: int = 56,
                 epochs: int = 5, pairs_per_batch: int = 16, lr_head: float = 3e-3, lr_backbone: float = 3e-5,
                 lr_steps: tuple[int, ...] = (4,), lam: float = 1.0, beta: float = 0.5, eta: float = 1e-3,
                 margin: float = 0.1, max_slices_per_nodule: int | None = 3, device: str = "auto",
                 seed: int = 0, num_workers: int = 0):
        self.backbone = backbone
        self.pretrained = pretrained
        self.patch_size = patch_size
        self.crop = crop
        self.epochs = epochs
        self.pairs_per_batch = pairs_per_batch
        self.lr_head = lr_head
        self.lr_backbone = lr_backbone
        self.lr_steps = lr_steps
        self.lam = lam
        self.beta = beta
        self.eta = eta
        self.margin = margin
        self.max_slices_per_nodule = max_slices_per_nodule
        self.device = device
        self.seed = seed
        self.num_workers = num_workers

    @classmethod
    def default_profile(cls, device: str) -> str:
        return "paper" if device.startswith("cuda") else "cpu"

    def _autocast(self, device: torch.device):
        # bf16 on a GPU, as the GPU path asks; the CPU stays fp32.
        if device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _build(self, device: torch.device) -> MtmrNet:
        backbone, self.weights_ = create_backbone(self.backbone, self.pretrained)
        model = MtmrNet(backbone, with_regression=self.lam > 0).to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        return model

    def fit(self, train: FoldData) -> Mtmr:
        generator = seed_everything(self.seed)
        device = resolve_device(self.device)
        model = self._build(device)
        keep = limit_slices_per_nodule(train.patches.nodule_ids, self.max_slices_per_nodule, self.seed)
        targets = train.targets()[_TARGET_COLUMNS].to_numpy(dtype=np.float32)[keep]
        labels = targets[:, 0]
        # One epoch: every kept slice enters about once, half of them as first and half as second branch.
        sampler = balanced_sampler(labels, generator)
        loader = DataLoader(PatchDataset(train.patches.images[keep], targets, self.crop, train=True),
                            batch_size=2 * self.pairs_per_batch, sampler=sampler, drop_last=True,
                            num_workers=self.num_workers, pin_memory=device.type == "cuda")
        heads = [p for layer in model.heads() for p in layer.parameters()]
        optimiser = torch.optim.Adam([{"params": model.backbone.parameters(), "lr": self.lr_backbone},
                                      {"params": heads, "lr": self.lr_head}])
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones=list(self.lr_steps), gamma=0.1)
        model.train()
        self.history_ = []
        with progress.task("epochs", total=self.epochs) as advance:
            for _ in checkpoints.epochs(self.epochs, model=model, optimiser=optimiser, schedule=schedule,
                                        sampler=generator, history=self.history_):
                totals: dict[str, float] = {}
                for images, batch in loader:
                    images = images.to(device, non_blocking=True)
                    if device.type == "cuda":
                        images = images.contiguous(memory_format=torch.channels_last)
                    batch = batch.to(device, non_blocking=True)
                    (x_i, x_j), (y_i, y_j) = images.chunk(2), batch.chunk(2)
                    with self._autocast(device):
                        loss, parts = total_loss(
                            model, x_i, x_j, y_i[:, 0], y_j[:, 0], y_i[:, 1:9], y_j[:, 1:9], y_i[:, 9], y_j[:, 9],
                            lam=self.lam, beta=self.beta, eta=self.eta, margin=self.margin)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    for name, value in parts.items():
                        totals[name] = totals.get(name, 0.0) + value / max(len(loader), 1)
                schedule.step()
                self.history_.append(totals)
                advance()
        self.model_ = model.eval()
        return self

    def bench_workload(self, prepare):
        """The untrained network and one Siamese training step, for `lidcbench bench`.

        ``prepare`` moves the network to the device (memory format, compile)."""
        from lidcbench.bench import Workload

        network = MtmrNet(create_backbone(self.backbone, "none")[0], with_regression=self.lam > 0)
        heads = [p for layer in network.heads() for p in layer.parameters()]
        model = prepare(network)
        optimiser = torch.optim.Adam([{"params": network.backbone.parameters(), "lr": self.lr_backbone},
                                      {"params": heads, "lr": self.lr_head}])

        def train_step(images):
            x_i, x_j = images.chunk(2)
            n, device = len(x_i), images.device
            generator = torch.Generator().manual_seed(n)
            labels = (torch.arange(n) % 2).float().to(device)
            attributes = torch.rand(n, len(ATTRIBUTE_NAMES), generator=generator).to(device)
            malignancy = torch.rand(n, generator=generator).to(device)
            loss, _ = total_loss(model, x_i, x_j, labels, labels.flip(0), attributes, attributes.flip(0),
                                 malignancy, malignancy.flip(0), lam=self.lam, beta=self.beta, eta=self.eta,
                                 margin=self.margin)
            return loss

        return Workload(model, self.crop, train_step, optimiser, unit="pairs", images_per_unit=2)

    @torch.inference_mode()
    def predict(self, test: FoldData):
        device = next(self.model_.parameters()).device
        loader = DataLoader(PatchDataset(test.patches.images, None, self.crop, train=False),
                            batch_size=max(4 * self.pairs_per_batch, 64), pin_memory=device.type == "cuda")
        probabilities, attributes = [], []
        for (images,) in loader:
            images = images.to(device, non_blocking=True)
            if device.type == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
            with self._autocast(device):
                logits, scores = self.model_(images)
            probabilities.append(torch.sigmoid(logits.float()).cpu())
            if scores is not None:
                attributes.append(scores.float().cpu())
        malignancy = torch.cat(probabilities).numpy() if probabilities else np.empty(0)
        if not self.predicts_attributes:
            return prediction_frame(test, malignancy)
        scores = torch.cat(attributes).numpy() if attributes else np.empty((0, len(ATTRIBUTE_NAMES)))
        return prediction_frame(test, malignancy, scores)


class MtmrReg(Mtmr):
    """MTMR-Net without the margin ranking loss (cross-entropy + attribute MSE)."""

    def __init__(self, beta: float = 0.0, **params):
        super().__init__(beta=beta, **params)


class MtmrRank(Mtmr):
    """MTMR-Net without attribute regression (cross-entropy + margin ranking); predicts no attributes."""

    predicts_attributes = False

    def __init__(self, lam: float = 0.0, **params):
        super().__init__(lam=lam, **params)
