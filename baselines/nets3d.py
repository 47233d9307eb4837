"""Networks of the volume baselines: 3D ResNets (``cnn3d``) and three orthogonal planes into a 2D
backbone (``cnn25d``). Each takes cubes (B, 1, D, D, D) and returns pooled features (B, num_features)."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

BACKBONES_3D = ("resnet3d-narrow", "r3d_18")


class _Block(nn.Module):
    """A 3D basic residual block: two 3x3x3 convolutions, a 1x1x1 projection where the shape changes."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(inputs, outputs, 3, stride=stride, padding=1, bias=False), nn.BatchNorm3d(outputs),
            nn.ReLU(inplace=True),
            nn.Conv3d(outputs, outputs, 3, padding=1, bias=False), nn.BatchNorm3d(outputs))
        self.shortcut = nn.Identity() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv3d(inputs, outputs, 1, stride=stride, bias=False), nn.BatchNorm3d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class NarrowResNet3d(nn.Module):
    """A small 3D ResNet for the CPU: a strided stem, then one block per stage at widths
    ``width``, 2x, 4x, 8x, each stage after the first halving the grid; global average pooling."""

    def __init__(self, width: int = 16):
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.stem = nn.Sequential(nn.Conv3d(1, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm3d(width),
                                  nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*(_Block(widths[max(i - 1, 0)], w, 1 if i == 0 else 2)
                                      for i, w in enumerate(widths)))
        self.num_features = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x)).mean(dim=(2, 3, 4))


def r3d_18_one_channel() -> nn.Module:
    """torchvision's video ResNet-18 (R3D-18, 33 M parameters), its stem built for one input channel
    (the stem's shape otherwise as torchvision's: 3x7x7, stride 1x2x2) and no classifier. Randomly
    initialised: its Kinetics-400 weights are video, not CT, and nothing is downloaded."""
    from torchvision.models.video import r3d_18

    model = r3d_18(weights=None)
    model.stem[0] = nn.Conv3d(1, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False)
    model.fc = nn.Identity()
    model.num_features = 512
    return model


def backbone_3d(name: str, width: int) -> nn.Module:
    if name == "r3d_18":
        return r3d_18_one_channel()
    if name == "resnet3d-narrow":
        return NarrowResNet3d(width)
    raise ValueError(f"backbone={name!r}: known 3D backbones are {', '.join(BACKBONES_3D)}")  # checked before


class OrthogonalPlanes(nn.Module):
    """MedMNIST's 2.5D: the axial, coronal and sagittal planes through the cube's centre as the three
    channels of a 2D image, into a 2D backbone."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.num_features = backbone.num_features

    def forward(self, cubes: torch.Tensor) -> torch.Tensor:
        centre = cubes.shape[-1] // 2
        volume = cubes[:, 0]
        planes = torch.stack([volume[:, centre], volume[:, :, centre], volume[:, :, :, centre]], dim=1)
        return self.backbone(planes)


def timm_backbone_3_channels(name: str, pretrained: str) -> tuple[nn.Module, str]:
    """A timm feature extractor with three input channels (the planes), and a note on its weights:
    ImageNet's from timm's local cache ("auto", as the 2D baselines), none ("none"), or a file (a path).
    Nothing is downloaded."""
    import timm

    from lidcbench.training.pretrained import cached_weights

    if pretrained == "none":
        return timm.create_model(name, pretrained=False, num_classes=0, in_chans=3), "none (random init, asked)"
    path = cached_weights(name) if pretrained == "auto" else pretrained
    if path is None or pretrained == "download":
        warnings.warn(f"no local ImageNet weights for {name}; training from random initialisation.", stacklevel=2)
        return timm.create_model(name, pretrained=False, num_classes=0, in_chans=3), \
            "none (random init: no local ImageNet weights found)"
    if not Path(path).is_file():
        # A ValueError naming the parameter: the runner turns it into a one-line error naming the method.
        raise ValueError(f"pretrained={path!r}: no such weights file")
    model = timm.create_model(name, pretrained=True, num_classes=0, in_chans=3, pretrained_cfg_overlay={"file": str(path)})
    return model, f"imagenet ({path})"
