"""3D shape features of a nodule's mask, measured in mm.

The mask is the cube's solid tissue: on the ``contours`` source, voxels above
the midpoint between parenchyma and solid tissue under the lung window are the
readers' consensus mask resampled to the cube (the noise sits more than five
standard deviations below the threshold); the connected component nearest the
centre is the nodule. On the ``ct`` source the same threshold also takes in
touching vessels and wall, so the features mean less there.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull
from skimage.measure import marching_cubes, mesh_surface_area

# Lung window [-1350, 150] HU: parenchyma (-850 HU) at 0.33, solid tissue (30 HU) at 0.92.
TISSUE_THRESHOLD = 0.63
FEATURE_NAMES = ("log_volume_mm3", "log_surface_mm2", "sphericity", "extent", "solidity", "elongation",
                 "flatness", "log_major_axis_mm", "log_z_extent_mm")


def nodule_mask(cube: np.ndarray, threshold: float = TISSUE_THRESHOLD) -> np.ndarray:
    """The connected tissue component nearest the cube's centre (empty when there is no tissue)."""
    tissue = np.asarray(cube, dtype=np.float32) > threshold
    labels, count = ndimage.label(tissue)
    if count <= 1:
        return labels > 0
    centre = (np.array(cube.shape) - 1) / 2
    points = np.argwhere(labels > 0)
    nearest = labels[tuple(points[np.argmin(((points - centre) ** 2).sum(axis=1))])]
    return labels == nearest


def shape_features(mask: np.ndarray, voxel_mm: float) -> np.ndarray:
    """:data:`FEATURE_NAMES` of one mask; an empty mask reads as a single voxel at the centre."""
    if not mask.any():
        mask = np.zeros(mask.shape, dtype=bool)
        mask[tuple(np.array(mask.shape) // 2)] = True
    volume = mask.sum() * voxel_mm ** 3
    # Padding closes the surface where the nodule touches the cube's border.
    vertices, faces, _, _ = marching_cubes(np.pad(mask, 1).astype(np.float32), 0.5, spacing=(voxel_mm,) * 3)
    surface = mesh_surface_area(vertices, faces)
    sphericity = np.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / surface
    # Solidity from the surface itself: the volume it encloses over that of its convex hull.
    enclosed = abs(np.einsum("ij,ij->i", vertices[faces[:, 0]], np.cross(vertices[faces[:, 1]],
                                                                           vertices[faces[:, 2]])).sum()) / 6
    solidity = enclosed / ConvexHull(vertices).volume
    points = np.argwhere(mask) * voxel_mm
    # Each voxel spreads voxel^2 / 12 along every axis itself, so even one voxel has an extent.
    spread = np.linalg.eigvalsh(np.cov(points.T, bias=True).reshape(3, 3)) + voxel_mm ** 2 / 12
    axes = np.sqrt(spread[::-1])  # largest first
    occupied = [np.flatnonzero(mask.any(axis=other)) for other in ((1, 2), (0, 2), (0, 1))]
    box = [(o[-1] - o[0] + 1) * voxel_mm for o in occupied]
    return np.array([
        np.log(volume),
        np.log(surface),
        sphericity,
        volume / np.prod(box),
        solidity,
        axes[1] / axes[0],
        axes[2] / axes[0],
        np.log(4 * axes[0]),  # the major axis of the ellipsoid with the same spread (as regionprops)
        np.log(box[0]),
    ])


def cube_features(cubes: np.ndarray, voxel_mm: float) -> np.ndarray:
    """(N, len(FEATURE_NAMES)): the shape features of each cube's nodule."""
    return np.array([shape_features(nodule_mask(cube), voxel_mm) for cube in cubes]).reshape(len(cubes), -1)
