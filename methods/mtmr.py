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

import numpy as np
import torch

from lidcbench.method import ATTRIBUTE_NAMES, FoldData, Method, prediction_frame
from lidcbench.params import at_least, device_name, each, no_larger, optional, positive, timm_model, weights_choice
from lidcbench.training.devicedata import TrainingSet, centre_batches
from lidcbench.training.loop import TrainLoop, adam, autocast, prepare_images, prepare_model
from lidcbench.training.torch_setup import create_backbone, limit_slices_per_nodule, resolve_device, seed_everything

from .mtmr_model import MtmrNet, total_loss, weight_decay, weight_penalty

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

    param_checks = {
        "backbone": timm_model(), "pretrained": weights_choice(), "patch_size": at_least(8), "crop": at_least(8),
        "epochs": at_least(1), "lr_head": positive(), "lr_backbone": positive(),
        "lr_steps": each(at_least(1), increasing=True), "max_slices_per_nodule": optional(at_least(1)),
        "device": device_name(),
        "pairs_per_batch": at_least(1), "lam": at_least(0), "beta": at_least(0), "eta": at_least(0),
        "margin": at_least(0),
    }
    param_relations = (no_larger("crop", "patch_size"),)

    def __init__(self, backbone: str = "resnet18", pretrained: str = "auto", patch_size: int = 64, crop: int = 56,
                 epochs: int = 5, pairs_per_batch: int = 16, lr_head: float = 3e-3, lr_backbone: float = 3e-5,
                 lr_steps: tuple[int, ...] = (4,), lam: float = 1.0, beta: float = 0.5, eta: float = 1e-3,
                 margin: float = 0.1, max_slices_per_nodule: int | None = 3, device: str = "auto",
                 seed: int = 0, compile: bool = False):
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
        self.compile = compile  # torch.compile the forward pass and loss

    @classmethod
    def default_profile(cls, device: str) -> str:
        return "paper" if device.startswith("cuda") else "cpu"

    def _network(self, pretrained: str) -> tuple[MtmrNet, str]:
        backbone, weights = create_backbone(self.backbone, pretrained)
        return MtmrNet(backbone, with_regression=self.lam > 0), weights

    def _optimiser(self, network: MtmrNet, device: torch.device) -> torch.optim.Adam:
        heads = [p for layer in network.heads() for p in layer.parameters()]
        return adam([{"params": network.backbone.parameters(), "lr": self.lr_backbone},
                     {"params": heads, "lr": self.lr_head}], device, weight_decay=weight_decay(self.eta))

    def _loss(self, model: MtmrNet, images: torch.Tensor, targets: torch.Tensor):
        # A batch is 2 x pairs_per_batch slices: its first half pairs with its second half.
        return total_loss(model, images, targets[:, 0], targets[:, 1:9], targets[:, 9], lam=self.lam,
                          beta=self.beta, margin=self.margin)

    def training_loop(self, train: FoldData, device: torch.device) -> TrainLoop:
        """The fit's training state, ready to run (also what `lidcbench bench` times for a few steps)."""
        network, self.weights_ = self._network(self.pretrained)
        model = prepare_model(network, device)
        keep = limit_slices_per_nodule(train.patches.nodule_ids, self.max_slices_per_nodule, self.seed)
        targets = train.targets()[_TARGET_COLUMNS].to_numpy(dtype=np.float32)[keep]
        # One epoch: every kept slice enters about once, half of them as first and half as second branch.
        data = TrainingSet.on(device, train.patches.images[keep], targets, targets[:, 0], self.crop)
        return TrainLoop(model, self._optimiser(network, device), data, self._loss,
                         batch_size=2 * self.pairs_per_batch, epochs=self.epochs, lr_steps=self.lr_steps,
                         seed=self.seed, compile=self.compile,
                         extra_history=lambda m: {"l2": weight_penalty(m)} if self.eta else {})

    def fit(self, train: FoldData) -> Mtmr:
        seed_everything(self.seed)
        loop = self.training_loop(train, resolve_device(self.device))
        self.model_ = loop.run()
        self.history_ = loop.history
        return self

    def bench_workload(self, prepare):
        """The untrained network and one Siamese training step, for `lidcbench bench`.

        ``prepare`` moves the network to the device (memory format, compile)."""
        from lidcbench.bench.throughput import Workload

        network, _ = self._network("none")
        model = prepare(network)
        optimiser = self._optimiser(network, next(network.parameters()).device)

        made: dict[int, torch.Tensor] = {}  # made once per batch size, outside the timed steps

        def train_step(images):
            if len(images) not in made:
                n, generator = len(images) // 2, torch.Generator().manual_seed(len(images))
                labels = (torch.arange(n) % 2).float()[:, None]
                attributes = torch.rand(n, len(ATTRIBUTE_NAMES), generator=generator)
                malignancy = torch.rand(n, 1, generator=generator)
                targets = torch.cat([labels, attributes, malignancy], dim=1)
                made[len(images)] = torch.cat([targets, targets.flip(0)]).to(images.device)
            return self._loss(model, images, made[len(images)])[0]

        return Workload(model, self.crop, train_step, optimiser, unit="pairs", images_per_unit=2)

    @torch.inference_mode()
    def predict(self, test: FoldData):
        device = next(self.model_.parameters()).device
        probabilities, attributes = [], []
        for images in centre_batches(test.patches.images, self.crop, max(4 * self.pairs_per_batch, 64), device):
            with autocast(device):
                logits, scores = self.model_(prepare_images(images))
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
