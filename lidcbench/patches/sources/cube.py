"""The cube both sources fill for a volume: its grid, the slices it needs, and the stacking in z.

A cube of ``size`` voxels a side, ``voxel_mm`` mm each, is centred on the nodule:
in-plane on the centre of the readers' outlines (the 2D crop's centre), in z midway
between the nodule's first and last slice. Each slice the cube reaches is sampled
in-plane exactly as a 2D patch is (:func:`.crop.sample_patch`: bilinear, pixel
centres aligned, no anti-aliasing filter) on a square of ``size * voxel_mm`` mm, that
is ``size * voxel_mm / pixel_spacing`` slice pixels; the planes, kept at the scan's
real slice positions, are then interpolated linearly in z onto the cube's voxel
centres. Voxels beyond the scan's first or last slice read the fill value (air).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidcbench.protocol.geometry import Crop, NoduleGeometry

DEFAULT_VOXEL_MM = 1.0
VOLUME_SIZES = (32, 64)  # the cube sizes a run asks for; other sizes >= 8 work too

CUBE_SETTINGS = {
    "centre": "in-plane: centre of the readers' outlines (the 2D crop's); z: midway between the nodule's "
              "first and last slice",
    "in_plane": "each slice sampled bilinearly (as 2D patches) from its own pixel spacing onto the cube's "
                "voxel grid; no anti-aliasing filter",
    "z_interpolation": "linear between the scan's real slice positions; beyond the scan's first or last "
                       "slice: air",
    "axes": "(z ascending, row, column)",
}


@dataclass(frozen=True)
class Cube:
    centre: tuple[float, float]  # (row, column) in slice pixels
    centre_z: float  # mm
    size: int
    voxel_mm: float
    pixel_spacing: float  # mm per slice pixel, in-plane

    @classmethod
    def around(cls, geometry: NoduleGeometry, pixel_spacing: float, size: int, voxel_mm: float) -> Cube:
        z = geometry.slice_z
        return cls(centre=geometry.crop.centre, centre_z=(min(z) + max(z)) / 2, size=size, voxel_mm=voxel_mm,
                   pixel_spacing=float(pixel_spacing))

    def crop(self) -> Crop:
        """The in-plane square of every plane, in slice pixels."""
        return Crop(centre=self.centre, side=self.size * self.voxel_mm / self.pixel_spacing)

    def z(self) -> np.ndarray:
        """z (mm) of the voxel centres along the cube's first axis."""
        return self.centre_z + (np.arange(self.size) + 0.5 - self.size / 2) * self.voxel_mm

    def slices_needed(self, scan_z: np.ndarray) -> np.ndarray:
        """Indices k of the scan's slices (``scan_z`` sorted) that linear interpolation reads."""
        z = self.z()
        low = max(int(np.searchsorted(scan_z, z[0], side="right")) - 1, 0)
        high = min(int(np.searchsorted(scan_z, z[-1], side="left")), len(scan_z) - 1)
        return np.arange(low, high + 1)


def stack_in_z(planes: np.ndarray, plane_z: np.ndarray, cube: Cube, fill: float) -> np.ndarray:
    """(size, size, size) float32: ``planes`` (n, size, size) at z positions ``plane_z`` (ascending)
    interpolated linearly onto the cube's voxel centres; outside [plane_z[0], plane_z[-1]]: ``fill``."""
    targets = cube.z()
    volume = np.full((cube.size, cube.size, cube.size), fill, dtype=np.float32)
    if len(planes) == 0:
        return volume
    if len(planes) == 1:  # a single slice stands for the voxels within half a voxel of it
        near = np.abs(targets - plane_z[0]) <= cube.voxel_mm / 2
        volume[near] = planes[0]
        return volume
    inside = (targets >= plane_z[0]) & (targets <= plane_z[-1])
    t = targets[inside]
    lower = np.clip(np.searchsorted(plane_z, t, side="right") - 1, 0, len(plane_z) - 2)
    gap = plane_z[lower + 1] - plane_z[lower]
    weight = np.divide(t - plane_z[lower], gap, out=np.zeros_like(t), where=gap > 0)[:, None, None]
    volume[inside] = planes[lower] * (1 - weight) + planes[lower + 1] * weight
    return volume
