"""A 2.5D classifier of malignancy: the axial, coronal and sagittal planes through the centre of the
nodule's cube as the three channels of a 2D timm ResNet (MedMNIST's ResNet-18 + 2.5D).

Augmentation happens to the cube before the planes are cut (shifts, flips, in-plane rotations), so
the three planes always stay orthogonal through one point."""
from __future__ import annotations

from torch import nn

from lidcbench.params import at_least, device_name, each, no_larger, positive, timm_model, weights_choice

from .nets3d import OrthogonalPlanes, timm_backbone_3_channels
from .volume_cnn import VolumeCnn


class Cnn25dMethod(VolumeCnn):
    """Three orthogonal planes -> 2D timm ResNet, one malignancy logit (no attributes)."""

    profiles = {
        # As cnn's cpu profile, on planes of 64 mm cubes: ResNet-18, 56-pixel windows, 8 epochs.
        "cpu": {"backbone": "resnet18", "patch_size": 64, "crop": 56, "epochs": 8, "lr_steps": (6,)},
        "paper": {"backbone": "resnet18", "patch_size": 64, "crop": 56, "epochs": 100, "lr_steps": (50, 75)},
    }

    param_checks = {
        "backbone": timm_model(), "pretrained": weights_choice(), "patch_size": at_least(8), "crop": at_least(8),
        "epochs": at_least(1), "lr_head": positive(), "lr_backbone": positive(),
        "lr_steps": each(at_least(1), increasing=True), "device": device_name(), "batch_size": at_least(2),
    }
    param_relations = (no_larger("crop", "patch_size"),)

    def __init__(self, backbone: str = "resnet18", pretrained: str = "auto", patch_size: int = 64, crop: int = 56,
                 epochs: int = 8, batch_size: int = 32, lr_head: float = 3e-3, lr_backbone: float = 3e-4,
                 lr_steps: tuple[int, ...] = (6,), device: str = "auto", seed: int = 0, compile: bool = False):
        self.backbone = backbone
        self.pretrained = pretrained
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
        backbone, weights = timm_backbone_3_channels(self.backbone, pretrained)
        return OrthogonalPlanes(backbone), weights
