"""The pixel steps both sources share: lung window, then bilinear sampling of a crop.

A patch is the :class:`~lidcbench.protocol.geometry.Crop` square resized to ``size`` x
``size`` by bilinear interpolation, pixel centres aligned as in
``torch.nn.functional.interpolate(align_corners=False)``. Cropping and resizing
happen in one step, so the nodule's centre lands on the patch centre whatever
the crop's fractional position, and the patch border interpolates with the
slice pixels just outside the crop rather than repeating its edge. Pixels
outside the slice count as air.
"""
from __future__ import annotations

import numpy as np

from lidcbench.protocol.geometry import Crop

# Lung window: level -600 HU, width 1500 HU, i.e. [-1350, 150] HU -> [0, 1].
LUNG_WINDOW_HU = (-1350.0, 150.0)
AIR_HU = -1000.0


def lung_window(hu: np.ndarray, window: tuple[float, float] = LUNG_WINDOW_HU) -> np.ndarray:
    low, high = window
    return np.clip((np.asarray(hu, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def sample_patch(block: np.ndarray, origin: tuple[int, int], crop: Crop, size: int, fill: float) -> np.ndarray:
    """The ``size`` x ``size`` patch of ``crop`` from ``block``, a block of a slice
    whose pixel [0, 0] sits at slice pixel ``origin``; pixels beyond it read ``fill``."""
    rows, cols = crop.coordinates(size)
    row_index, row_weight, row_span = _neighbours(rows - origin[0], block.shape[0])
    col_index, col_weight, col_span = _neighbours(cols - origin[1], block.shape[1])
    # Gathers instead of a matrix product: BLAS threads would fight the worker processes.
    padded = np.pad(block[row_span, col_span].astype(np.float64), 1, constant_values=fill)
    mixed_rows = padded[row_index] * (1 - row_weight)[:, None] + padded[row_index + 1] * row_weight[:, None]
    patch = mixed_rows[:, col_index] * (1 - col_weight) + mixed_rows[:, col_index + 1] * col_weight
    return patch.astype(np.float32)


def _neighbours(coordinates: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray, slice]:
    """For each coordinate on an axis of ``length`` pixels: the index of its lower
    neighbour in the span ``span`` padded by one fill pixel each side, and the
    weight of the upper neighbour. Coordinates beyond the axis read fill only."""
    below = np.floor(coordinates).astype(np.int64)
    weight = coordinates - below
    low = int(np.clip(below.min(), 0, length - 1))
    high = int(np.clip(below.max() + 1, low, length - 1))
    index = below - low + 1  # position in the padded span
    width = high - low + 1
    before, after = index < 0, index > width  # both neighbours outside: all fill
    index[before], weight[before] = 0, 0.0
    index[after], weight[after] = width, 1.0
    return index, weight, slice(low, high + 1)
