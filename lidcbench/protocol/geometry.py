"""Where a nodule lies in its scan, from the readers' contours alone.

Both patch sources crop the same square around a nodule (:attr:`NoduleGeometry.crop`),
so patches from real CT and from rendered contours line up pixel for pixel.
The consensus mask reproduces ``pylidc.utils.consensus`` (``tests/test_geometry.py``
compares them) without pylidc's per-annotation database queries.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.path import Path as Polygon

from .database import Contours, Outline, load_contours

# The MTMR-Net authors' crop: a square 1.25 times the nodule's larger in-plane extent.
CROP_FACTOR = 1.25
CONSENSUS_LEVEL = 0.5


@dataclass(frozen=True)
class Crop:
    """A square in a slice's pixel grid: ``centre`` (row, column), ``side`` in pixels.

    Pixel centres sit at integer coordinates, so pixel p covers [p - 0.5, p + 0.5].
    """

    centre: tuple[float, float]
    side: float

    def coordinates(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Row and column coordinates of the centres of a ``size`` x ``size`` patch's pixels."""
        offsets = (np.arange(size) + 0.5) * (self.side / size) - self.side / 2
        return self.centre[0] + offsets, self.centre[1] + offsets

    def footprint(self, size: int) -> tuple[int, int, int, int]:
        """Inclusive (row_lo, row_hi, col_lo, col_hi) of the pixels that bilinear sampling reads."""
        rows, cols = self.coordinates(size)
        return (int(np.floor(rows[0])), int(np.floor(rows[-1])) + 1,
                int(np.floor(cols[0])), int(np.floor(cols[-1])) + 1)


@dataclass(frozen=True)
class NoduleGeometry:
    """A nodule's readers' outlines, the slices it spans and its crop.

    ``readers``: one tuple of outlines per annotation (reader), in the cohort
    row's order. ``slices``: slice indices k, as the cohort row's ``slices``.
    ``slice_z``: the z position (mm) of each of those slices.
    """

    scan_id: int
    slices: tuple[int, ...]
    slice_z: tuple[float, ...]
    readers: tuple[tuple[Outline, ...], ...]
    crop: Crop

    def consensus(self, k: int, origin: tuple[int, int], shape: tuple[int, int],
                  level: float = CONSENSUS_LEVEL) -> np.ndarray:
        """Boolean mask of slice ``k`` over the pixel block starting at ``origin``:
        pixels that at least ``level`` of the readers enclose (pylidc's rule)."""
        masks = [_reader_mask(outlines, k, origin, shape) for outlines in self.readers]
        return np.mean(masks, axis=0) >= level


def nodule_geometry(row: Mapping[str, Any], db_path: Path | None = None) -> NoduleGeometry:
    """Geometry of one cohort row; reads only ``annotation_ids``, ``scan_id`` and ``slices``."""
    contours: Contours = load_contours(db_path)
    readers = tuple(contours.outlines[int(a)] for a in row["annotation_ids"])
    points = np.vstack([o.points for outlines in readers for o in outlines])
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float((high - low).max() + 1)  # pixels spanned along the longer axis
    centre = (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2)
    scan_z = contours.slice_z[int(row["scan_id"])]
    slices = tuple(int(k) for k in row["slices"])
    return NoduleGeometry(
        scan_id=int(row["scan_id"]),
        slices=slices,
        slice_z=tuple(float(scan_z[k]) for k in slices),
        readers=readers,
        crop=Crop(centre=centre, side=CROP_FACTOR * extent),
    )


def _reader_mask(outlines: tuple[Outline, ...], k: int, origin: tuple[int, int],
                 shape: tuple[int, int]) -> np.ndarray:
    """One reader's mask on slice k, as pylidc's ``Annotation.boolean_mask``:
    inside an inclusion outline, outside every exclusion outline, and never on
    an outline's own points."""
    mask = np.zeros(shape, dtype=bool)
    rows, cols = np.indices(shape)
    centres = np.c_[rows.ravel() + origin[0], cols.ravel() + origin[1]]
    on_slice = [o for o in outlines if o.k == k]
    for include in (True, False):  # pylidc adds every inclusion before cutting any hole
        for outline in (o for o in on_slice if o.inclusion == include):
            closed = outline.points
            if (closed[0] != closed[-1]).any():
                closed = np.vstack([closed, closed[:1]])
            inside = Polygon(closed, closed=True).contains_points(centres).reshape(shape)
            mask = mask | inside if include else mask & ~inside
            _clear_points(mask, closed, origin)
    return mask


def _clear_points(mask: np.ndarray, points: np.ndarray, origin: tuple[int, int]) -> None:
    local = points - np.asarray(origin)
    keep = (local >= 0).all(axis=1) & (local[:, 0] < mask.shape[0]) & (local[:, 1] < mask.shape[1])
    mask[local[keep, 0], local[keep, 1]] = False
