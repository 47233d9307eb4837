"""A fold's training cubes held where training runs, and batches drawn and augmented there.

The 3D counterpart of :mod:`.devicedata`, for methods whose ``patch_kind`` is
``"volume"``; it gives :class:`~.loop.TrainLoop` the same ``images``,
``epoch(batch_size, generator)`` and ``len`` as :class:`~.devicedata.TrainingSet`.
Each batch is one gather on the device: class-balanced sampling with
replacement (as many cubes an epoch as the set holds), a random ``crop``-voxel
window (a shift of up to ``size - crop`` voxels along each axis), a flip along
each axis with probability 0.5, and an in-plane transpose with probability 0.5
(with the flips: all eight in-plane 90-degree rotations and reflections; z is
never swapped with a plane axis, since slice spacing differs from pixel
spacing in the scans the cubes come from).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .devicedata import balanced_indices, check_crop, to_device


def _axis(offsets: torch.Tensor, flips: torch.Tensor, crop: int) -> torch.Tensor:
    """(B, crop) indices along one axis: each sample's window, read backwards where flipped."""
    forward = torch.arange(crop, device=offsets.device)
    return offsets[:, None] + torch.where(flips[:, None], forward.flip(0), forward)


def shift_flip_rotate(volumes: torch.Tensor, index: torch.Tensor, crop: int,
                      generator: torch.Generator) -> torch.Tensor:
    """Cubes ``index`` of ``volumes`` (N, S, S, S), each randomly shifted, flipped and rotated in-plane,
    as (B, 1, crop, crop, crop)."""
    size, device, count = volumes.shape[-1], volumes.device, len(index)
    offsets = torch.randint(0, size - crop + 1, (3, count), generator=generator, device=device)
    flips = torch.rand(3, count, generator=generator, device=device) < 0.5
    transpose = (torch.rand(count, generator=generator, device=device) < 0.5)[:, None, None]
    z, rows, columns = (_axis(offsets[a], flips[a], crop) for a in range(3))
    # out[j, k] = window[k, j] where transposed: the row index follows k, the column index j.
    row_index = torch.where(transpose, rows[:, None, :], rows[:, :, None])  # (B, crop, crop)
    column_index = torch.where(transpose, columns[:, :, None], columns[:, None, :])
    gathered = volumes[index[:, None, None, None], z[:, :, None, None], row_index[:, None], column_index[:, None]]
    return gathered.unsqueeze(1)


def centre_cube(volumes: torch.Tensor, crop: int) -> torch.Tensor:
    """(B, S, S, S) -> (B, 1, crop, crop, crop), the central window (what prediction sees)."""
    o = (volumes.shape[-1] - crop) // 2
    return volumes[:, o: o + crop, o: o + crop, o: o + crop].unsqueeze(1)


@dataclass
class VolumeSet:
    """Training cubes and their target rows on one device; ``labels`` drive the balanced sampling."""

    images: torch.Tensor  # (N, S, S, S)
    targets: torch.Tensor  # (N, T) float32
    labels: torch.Tensor  # (N,) 0/1
    crop: int

    @classmethod
    def on(cls, device: torch.device, volumes: np.ndarray, targets: np.ndarray, labels: np.ndarray,
           crop: int) -> VolumeSet:
        check_crop(volumes.shape[-1], crop)
        return cls(images=to_device(volumes, device),
                   targets=torch.as_tensor(np.asarray(targets, dtype=np.float32)).to(device),
                   labels=torch.as_tensor(np.asarray(labels).astype(np.int64)).to(device), crop=crop)

    def __len__(self) -> int:
        return len(self.images)

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self) // batch_size  # the last, incomplete batch is dropped

    def epoch(self, batch_size: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of (cubes (B, 1, crop, crop, crop) float32, targets (B, T)) batches, drawn on the device."""
        order = balanced_indices(self.labels, len(self), generator)
        for step in range(self.steps_per_epoch(batch_size)):
            index = order[step * batch_size: (step + 1) * batch_size]
            yield shift_flip_rotate(self.images, index, self.crop, generator).float(), self.targets[index]


def centre_volume_batches(volumes: np.ndarray, crop: int, batch_size: int,
                          device: torch.device) -> Iterator[torch.Tensor]:
    """Prediction input: the centre windows of ``volumes`` in order, batch by batch, float32 on ``device``."""
    check_crop(volumes.shape[-1], crop)
    for start in range(0, len(volumes), batch_size):
        batch = torch.from_numpy(np.array(volumes[start: start + batch_size], dtype=np.float32))
        yield centre_cube(batch, crop).to(device, non_blocking=True)
