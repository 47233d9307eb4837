"""A plain CNN classifier: the paper's single-task reference point.

A timm ResNet with one logit for malignancy, no attributes, trained with
cross-entropy on class-balanced patches.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from lidcbench import progress
from lidcbench.executors import checkpoints
from lidcbench.method import FoldData, Method, prediction_frame
from lidcbench.training import (PatchDataset, balanced_sampler, create_backbone, limit_slices_per_nodule,
                                resolve_device, seed_everything)


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

    def __init__(self, backbone: str = "resnet18", pretrained: str = "auto", patch_size: int = 64, crop: int = 56,
                 epochs: int = 5, batch_size: int = 32, lr_head: float = 3e-3, lr_backbone: float = 3e-5,
                 lr_steps: tuple[int, ...] = (4,), max_slices_per_nodule: int | None = 3, device: str = "auto",
                 seed: int = 0):
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

    @classmethod
    def default_profile(cls, device: str) -> str:
        return "paper" if device.startswith("cuda") else "cpu"

    def fit(self, train: FoldData) -> CnnMethod:
        generator = seed_everything(self.seed)
        device = resolve_device(self.device)
        backbone, self.weights_ = create_backbone(self.backbone, self.pretrained)
        head = nn.Linear(backbone.num_features, 1)
        nn.init.xavier_uniform_(head.weight)
        nn.init.zeros_(head.bias)
        model = nn.Sequential(backbone, head).to(device)
        keep = limit_slices_per_nodule(train.patches.nodule_ids, self.max_slices_per_nodule, self.seed)
        labels = train.targets()["label"].to_numpy()[keep]
        loader = DataLoader(PatchDataset(train.patches.images[keep], labels[:, None], self.crop, train=True),
                            batch_size=self.batch_size, sampler=balanced_sampler(labels, generator), drop_last=True)
        optimiser = torch.optim.Adam([{"params": backbone.parameters(), "lr": self.lr_backbone},
                                      {"params": head.parameters(), "lr": self.lr_head}])
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones=list(self.lr_steps), gamma=0.1)
        loss_function = nn.BCEWithLogitsLoss()
        model.train()
        with progress.task("epochs", total=self.epochs) as advance:
            for _ in checkpoints.epochs(self.epochs, model=model, optimiser=optimiser, schedule=schedule,
                                        sampler=generator):
                for images, targets in loader:
                    optimiser.zero_grad()
                    loss = loss_function(model(images.to(device)), targets.to(device))
                    loss.backward()
                    optimiser.step()
                schedule.step()
                advance()
        self.model_ = model.eval()
        return self

    def bench_workload(self, prepare):
        """The untrained network and one training step, for `lidcbench bench`."""
        from lidcbench.bench import Workload

        backbone, _ = create_backbone(self.backbone, "none")
        head = nn.Linear(backbone.num_features, 1)
        model = prepare(nn.Sequential(backbone, head))
        optimiser = torch.optim.Adam([{"params": backbone.parameters(), "lr": self.lr_backbone},
                                      {"params": head.parameters(), "lr": self.lr_head}])
        loss_function = nn.BCEWithLogitsLoss()

        def train_step(images):
            targets = (torch.arange(len(images), device=images.device) % 2).float()[:, None]
            return loss_function(model(images).float(), targets)

        return Workload(model, self.crop, train_step, optimiser)

    @torch.inference_mode()
    def predict(self, test: FoldData):
        device = next(self.model_.parameters()).device
        loader = DataLoader(PatchDataset(test.patches.images, None, self.crop, train=False),
                            batch_size=max(self.batch_size, 64))
        logits = [self.model_(images.to(device)).float().cpu() for (images,) in loader]
        malignancy = torch.sigmoid(torch.cat(logits)).numpy()[:, 0] if logits else np.empty(0)
        return prediction_frame(test, malignancy)
