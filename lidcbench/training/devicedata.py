"""A fold's training patches held where training runs, and batches drawn there.

The whole training set is one tensor on the device (float16 on a GPU: the
cache's own precision, half the memory); each batch is sampled, cropped and
flipped there in a few batched tensor operations, with no per-sample Python
and no DataLoader. The CPU runs the same code on CPU tensors.

Augmentation is the paper's: a random ``crop`` x ``crop`` window whose top and
left offsets are each uniform over every valid position, then a horizontal
and a vertical flip, each with probability 0.5, all independent; class-balanced
sampling with replacement draws as many patches an epoch as the set holds.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lidcbench.errors import LidcbenchError


def to_device(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """``images`` (N, S, S) as one tensor on ``device``: float16 on a GPU (the cache's own precision, so
    the cache's values unchanged), float32 on the CPU (whose convolutions want it)."""
    stored = np.float16 if device.type == "cuda" else np.float32
    return torch.from_numpy(np.ascontiguousarray(images, dtype=stored)).to(device)


def balanced_indices(labels: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` indices drawn with replacement so that each class is drawn equally often
    (the paper oversamples malignant nodules); as torch's WeightedRandomSampler draws them."""
    labels = labels.long()
    counts = torch.bincount(labels, minlength=2).double()
    weights = 1.0 / counts[labels]
    return torch.multinomial(weights, count, replacement=True, generator=generator)


def crop_and_flip(images: torch.Tensor, index: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
    """Images ``index`` of ``images`` (N, S, S), each randomly cropped and flipped, as (B, 1, crop, crop).

    One gather does all of it: a flip is the crop window's rows (vertical) or
    columns (horizontal) read backwards."""
    size, device, count = images.shape[-1], images.device, len(index)
    offsets = torch.randint(0, size - crop + 1, (2, count), generator=generator, device=device)
    flips = torch.rand(2, count, generator=generator, device=device) < 0.5
    forward = torch.arange(crop, device=device)
    backward = forward.flip(0)
    rows = offsets[0, :, None] + torch.where(flips[1, :, None], backward, forward)  # flips[1]: vertical
    columns = offsets[1, :, None] + torch.where(flips[0, :, None], backward, forward)  # flips[0]: horizontal
    return images[index[:, None, None], rows[:, :, None], columns[:, None, :]].unsqueeze(1)


def centre_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """(B, S, S) -> (B, 1, crop, crop), the central window (what prediction sees)."""
    offset = (images.shape[-1] - crop) // 2
    return images[:, offset: offset + crop, offset: offset + crop].unsqueeze(1)


def check_crop(size: int, crop: int) -> None:
    if crop > size:
        raise LidcbenchError(f"crop {crop} is larger than the patch size {size}.")


@dataclass
class TrainingSet:
    """Training patches and their target rows on one device; ``labels`` drive the balanced sampling."""

    images: torch.Tensor  # (N, S, S)
    targets: torch.Tensor  # (N, T) float32
    labels: torch.Tensor  # (N,) 0/1
    crop: int

    @classmethod
    def on(cls, device: torch.device, images: np.ndarray, targets: np.ndarray, labels: np.ndarray,
           crop: int) -> TrainingSet:
        check_crop(images.shape[-1], crop)
        return cls(images=to_device(images, device),
                   targets=torch.as_tensor(np.asarray(targets, dtype=np.float32)).to(device),
                   labels=torch.as_tensor(np.asarray(labels).astype(np.int64)).to(device), crop=crop)

    def __len__(self) -> int:
        return len(self.images)

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self) // batch_size  # the last, incomplete batch is dropped

    def epoch(self, batch_size: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of (images (B, 1, crop, crop) float32, targets (B, T)) batches, drawn on the device."""
        order = balanced_indices(self.labels, len(self), generator)
        for step in range(self.steps_per_epoch(batch_size)):
            index = order[step * batch_size: (step + 1) * batch_size]
            yield crop_and_flip(self.images, index, self.crop, generator).float(), self.targets[index]


def centre_batches(images: np.ndarray, crop: int, batch_size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Prediction input: the centre crops of ``images`` in order, batch by batch, float32 on ``device``."""
    check_crop(images.shape[-1], crop)
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.array(images[start: start + batch_size], dtype=np.float32))
        yield centre_crop(batch, crop).to(device, non_blocking=True)
