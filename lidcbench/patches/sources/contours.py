"""The built-in source: each nodule slice rendered from the readers' contours.

Nothing is downloaded. On every slice a nodule spans, the readers' 50%
consensus mask (pylidc's rule) becomes soft tissue inside lung parenchyma,
with correlated noise and a slightly blurred edge, in Hounsfield units; then
the same lung window and crop as the ``ct`` source apply. The image carries the
nodule's real shape and extent and nothing else: no rating, label or CT texture
reaches a pixel. Noise is seeded by the nodule id, so a nodule renders the same
every time (for a given numpy).
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from lidcbench.protocol.database import load_contours
from lidcbench.protocol.geometry import CONSENSUS_LEVEL, CROP_FACTOR, Crop, nodule_geometry

from .base import Source
from .cube import CUBE_SETTINGS, Cube, stack_in_z
from .crop import AIR_HU, LUNG_WINDOW_HU, lung_window, sample_patch

# Raise when the rendered pixels change, so cached patches are rebuilt.
RENDER_VERSION = 1
VOLUME_VERSION = 1  # the same, for volumes

LUNG_HU = -850.0  # aerated parenchyma
TISSUE_HU = 30.0  # solid nodule
NOISE_HU = 40.0  # standard deviation of the noise
NOISE_GRAIN_PX = 0.8  # noise correlation length, like reconstructed CT
EDGE_BLUR_PX = 0.6  # partial-volume blur of the nodule's edge
MARGIN_PX = 4  # rendered beyond the crop so blur has no border effect


class ContoursSource(Source):
    name = "contours"

    def __init__(self, db_path: Path | str | None = None) -> None:
        self.db_path = Path(db_path) if db_path is not None else None

    def settings(self) -> dict[str, Any]:
        return {
            "version": RENDER_VERSION,
            "mask": f"pylidc consensus at {CONSENSUS_LEVEL:g} of readers",
            "crop": f"square of {CROP_FACTOR:g} x the readers' larger in-plane extent, centred on it",
            "interpolation": "bilinear",
            "window_hu": list(LUNG_WINDOW_HU),
            "lung_hu": LUNG_HU,
            "tissue_hu": TISSUE_HU,
            "noise_hu": NOISE_HU,
            "noise_grain_px": NOISE_GRAIN_PX,
            "edge_blur_px": EDGE_BLUR_PX,
            # numpy may change its random streams between versions; the cache key notices.
            "rng": f"numpy {'.'.join(np.__version__.split('.')[:2])} PCG64 seeded by nodule id",
        }

    def volume_settings(self) -> dict[str, Any]:
        plane = {k: v for k, v in self.settings().items() if k not in ("crop", "interpolation")}
        return {**plane, **CUBE_SETTINGS, "volume_version": VOLUME_VERSION,
                "slices": "every scan slice the cube reaches is rendered (parenchyma and noise where no "
                          "reader outlined the nodule), by the 2D rules"}

    def describe(self) -> str:
        return "contours (rendered from the readers' contours)"

    def render_nodule(self, row: Mapping[str, Any], size: int) -> tuple[np.ndarray, np.ndarray]:
        geometry = nodule_geometry(row, self.db_path)
        images = _render_planes(geometry, geometry.slices, geometry.crop, size, _seed(row["nodule_id"]))
        return images, np.array(geometry.slices, dtype=np.int64)

    def render_volume(self, row: Mapping[str, Any], size: int, voxel_mm: float) -> np.ndarray:
        geometry = nodule_geometry(row, self.db_path)
        cube = Cube.around(geometry, row["pixel_spacing"], size, voxel_mm)
        scan_z = load_contours(self.db_path).slice_z[geometry.scan_id]
        needed = cube.slices_needed(scan_z)
        # Seeded apart from the 2D rendering's stream: the volume's noise is its own.
        planes = _render_planes(geometry, needed.tolist(), cube.crop(), size, _seed(row["nodule_id"] + "/volume"))
        return stack_in_z(planes, scan_z[needed], cube, float(lung_window(AIR_HU)))


def _render_planes(geometry, slices, crop: Crop, size: int, seed: int) -> np.ndarray:
    """Slices ``slices`` of the nodule's scan rendered and sampled on ``crop`` at ``size`` px (2D rules)."""
    row_lo, row_hi, col_lo, col_hi = crop.footprint(size)
    origin = (row_lo - MARGIN_PX, col_lo - MARGIN_PX)
    shape = (row_hi - row_lo + 1 + 2 * MARGIN_PX, col_hi - col_lo + 1 + 2 * MARGIN_PX)
    rng = np.random.default_rng(seed)
    fill = float(lung_window(AIR_HU))
    images = np.empty((len(slices), size, size), dtype=np.float32)
    for index, k in enumerate(slices):
        tissue = gaussian_filter(geometry.consensus(k, origin, shape).astype(np.float64), EDGE_BLUR_PX)
        hu = LUNG_HU + (TISSUE_HU - LUNG_HU) * tissue + _noise(rng, shape)
        images[index] = sample_patch(lung_window(hu), origin, crop, size, fill)
    return images


def _seed(nodule_id: str) -> int:
    return int.from_bytes(hashlib.sha256(nodule_id.encode()).digest()[:8], "little")


def _noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    # Smoothing white noise by a Gaussian of width s divides its deviation by 2 s sqrt(pi).
    white = rng.standard_normal(shape)
    return gaussian_filter(white, NOISE_GRAIN_PX) * (NOISE_HU * 2 * NOISE_GRAIN_PX * np.sqrt(np.pi))
