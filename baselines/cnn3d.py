"""A 3D CNN classifier of malignancy on the nodule's cube.

``paper``: torchvision's video ResNet-18 (R3D-18) with a one-channel stem, as
MedMNIST's ResNet-18 + 3D baseline; ``cpu``: a narrow 3D ResNet (widths
16-128, one block a stage, 1.2 M parameters) that trains an epoch of the
training folds in minutes on 2 cores, where R3D-18 trains about 7 cubes/s.
"""
from __future__ import annotations

from torch import nn

from lidcbench.params import at_least, device_name, each, no_larger, one_of, positive

from .nets3d import BACKBONES_3D, backbone_3d
from .volume_cnn import VolumeCnn


class Cnn3dMethod(VolumeCnn):
    """3D ResNet on 1 mm cubes, one malignancy logit (no attributes)."""

    profiles = {
        # 32 mm cubes, 28-voxel windows (shifts of up to 4 mm), 8 epochs with the x0.1 step after 6.
        "cpu": {"backbone": "resnet3d-narrow", "width": 16, "patch_size": 32, "crop": 28, "epochs": 8,
                "lr_steps": (6,)},
        # MedMNIST-like: R3D-18 on 64 mm cubes with 56-voxel windows, 100 epochs, x0.1 at 50 and 75.
        "paper": {"backbone": "r3d_18", "width": 64, "patch_size": 64, "crop": 56, "epochs": 100,
                  "lr_steps": (50, 75)},
    }

    param_checks = {
        "backbone": one_of(*BACKBONES_3D), "width": at_least(4), "pretrained": one_of("none"),
        "patch_size": at_least(8), "crop": at_least(8), "epochs": at_least(1), "lr_head": positive(),
        "lr_backbone": positive(), "lr_steps": each(at_least(1), increasing=True), "device": device_name(),
        "batch_size": at_least(2),  # batch norm needs two samples
    }
    param_relations = (no_larger("crop", "patch_size"),)

    def __init__(self, backbone: str = "resnet3d-narrow", width: int = 16, pretrained: str = "none",
                 patch_size: int = 32, crop: int = 28, epochs: int = 8, batch_size: int = 32, lr_head: float = 1e-3,
                 lr_backbone: float = 1e-3, lr_steps: tuple[int, ...] = (6,), device: str = "auto", seed: int = 0,
                 compile: bool = False):
        self.backbone = backbone
        self.width = width
        self.pretrained = pretrained  # no 3D CT weights exist to load: always "none"
        self.patch_size = patch_size
        self.crop = crop
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_head = lr_head
        self.lr_backbone = lr_backbone
        self.lr_steps = lr_steps
        self.device = device
        self.seed = seed
        self.compile = compile

    def _backbone(self, pretrained: str) -> tuple[nn.Module, str]:
        return backbone_3d(self.backbone, self.width), "none (random init: no 3D CT weights)"
