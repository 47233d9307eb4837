"""Shared pieces for methods that train a torch model on patches.

Device and seed handling, a patch dataset with the paper's augmentation
(random crop, horizontal and vertical flips), class-balanced oversampling,
and backbone creation that loads ImageNet weights only from local files.
"""
from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from .errors import LidcbenchError


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


class PatchDataset(Dataset):
    """Patches as 1-channel tensors; ``train`` adds random crops and flips,
    otherwise the centre crop. Targets are per-patch rows of floats."""

    def __init__(self, images: np.ndarray, targets: np.ndarray | None, crop: int, train: bool):
        self.images = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        self.targets = None if targets is None else torch.from_numpy(np.asarray(targets, dtype=np.float32))
        self.crop, self.train = crop, train
        size = self.images.shape[-1]
        if crop > size:
            raise LidcbenchError(f"crop {crop} is larger than the patch size {size}.")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        size = image.shape[-1]
        if self.train:
            top, left = (int(torch.randint(0, size - self.crop + 1, ())) for _ in range(2))
            image = image[top: top + self.crop, left: left + self.crop]
            if torch.rand(()) < 0.5:
                image = image.flip(-1)
            if torch.rand(()) < 0.5:
                image = image.flip(-2)
        else:
            offset = (size - self.crop) // 2
            image = image[offset: offset + self.crop, offset: offset + self.crop]
        image = image.unsqueeze(0)
        return (image,) if self.targets is None else (image, self.targets[index])


def balanced_sampler(labels: np.ndarray, generator: torch.Generator) -> WeightedRandomSampler:
    """Draw malignant and benign patches equally often (the paper oversamples malignant nodules)."""
    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=2).astype(float)
    weights = 1.0 / counts[labels]
    return WeightedRandomSampler(torch.from_numpy(weights), num_samples=len(labels), replacement=True,
                                 generator=generator)


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


def _cached_weights(model_name: str) -> str | None:
    import timm
    from huggingface_hub import try_to_load_from_cache

    config = timm.models.get_pretrained_cfg(model_name)
    if config is None or not getattr(config, "hf_hub_id", None):
        return None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(config.hf_hub_id, filename)
        if isinstance(found, str):
            return found
    return None


def create_backbone(model_name: str, pretrained: str = "auto") -> tuple[torch.nn.Module, str]:
    """A timm feature extractor (1 input channel, pooled features) and a note on its weights.

    ``pretrained``: "auto" loads ImageNet weights if timm's local cache holds
    them, else initialises randomly with a warning; "none" initialises
    randomly; "download" (opt-in) lets timm fetch them into its cache
    (:mod:`lidcbench.pretrained`); any other value is a path to a weights file.
    """
    import timm

    if pretrained == "download":
        from .pretrained import download_backbone

        return download_backbone(model_name)
    if pretrained == "none":
        return timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=1), "none (random init, asked)"
    path = _cached_weights(model_name) if pretrained == "auto" else pretrained
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
