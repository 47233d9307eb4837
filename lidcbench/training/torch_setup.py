"""Shared pieces for methods that train a torch model on patches.

Device and seed handling, the choice of slices per nodule, and backbone
creation that loads ImageNet weights only from local files. The training
loop is :mod:`.loop`; the device-resident data and its augmentation
(random crop, horizontal and vertical flips, class-balanced sampling) are
:mod:`.devicedata`.
"""
from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import torch

from lidcbench.errors import LidcbenchError


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LidcbenchError(f"device {device!r} asked for, but torch sees no CUDA device; use --device cpu.")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def limit_slices_per_nodule(nodule_ids: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` patches per nodule (its central ones), in the original order."""
    nodule_ids = np.asarray(nodule_ids)
    if limit is None:
        return np.arange(len(nodule_ids))
    keep = []
    for nodule in dict.fromkeys(nodule_ids):
        positions = np.flatnonzero(nodule_ids == nodule)
        if len(positions) > limit:
            start = (len(positions) - limit) // 2
            positions = positions[start: start + limit]
        keep.extend(positions.tolist())
    return np.sort(np.array(keep, dtype=int))


def create_backbone(model_name: str, pretrained: str = "auto") -> tuple[torch.nn.Module, str]:
    """A timm feature extractor (1 input channel, pooled features) and a note on its weights.

    ``pretrained``: "auto" loads ImageNet weights if timm's local cache holds
    them, else initialises randomly with a warning; "none" initialises
    randomly; "download" (opt-in) lets timm fetch them into its cache
    (:mod:`lidcbench.training.pretrained`); any other value is a path to a weights file.
    """
    import timm

    if pretrained == "download":
        from .pretrained import download_backbone

        return download_backbone(model_name)
    if pretrained == "none":
        return timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=1), "none (random init, asked)"
    from .pretrained import cached_weights

    path = cached_weights(model_name) if pretrained == "auto" else pretrained
    if path is None:
        warnings.warn(
            f"no local ImageNet weights for {model_name} (looked in timm's Hugging Face cache); training from "
            "random initialisation. Put the weights in that cache or pass pretrained=PATH to use them.",
            stacklevel=2,
        )
        model = timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=1)
        return model, "none (random init: no local ImageNet weights found)"
    if not Path(path).is_file():
        raise LidcbenchError(f"pretrained weights file {path} does not exist.")
    model = timm.create_model(model_name, pretrained=True, num_classes=0, in_chans=1,
                              pretrained_cfg_overlay={"file": str(path)})
    return model, f"imagenet ({path})"
