"""Hand-crafted patch features for the linear baselines (scikit-image).

Per patch: intensity statistics, grey-level co-occurrence texture, and the
shape of the thresholded region under the patch centre.
"""
from __future__ import annotations

import os

import numpy as np
from scipy import stats
from skimage.feature import graycomatrix, graycoprops
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

_TEXTURE = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")
_SHAPE = ("area", "perimeter_ratio", "eccentricity", "solidity", "extent", "axis_ratio", "euler_number")
FEATURE_NAMES = (
    "mean", "std", "p10", "p50", "p90", "skew", "kurtosis", "centre_mean", "centre_std",
    *(f"glcm_{name}" for name in _TEXTURE),
    *(f"shape_{name}" for name in _SHAPE),
)
PARALLEL_FROM = 512  # patches: fewer are computed in this thread (starting workers costs more)


def _intensity(image: np.ndarray) -> list[float]:
    flat = image.ravel()
    size = image.shape[0]
    centre = image[size // 4: 3 * size // 4, size // 4: 3 * size // 4]
    p10, p50, p90 = np.percentile(flat, [10, 50, 90])
    spread = flat.std()
    skew = float(stats.skew(flat)) if spread > 0 else 0.0
    kurtosis = float(stats.kurtosis(flat)) if spread > 0 else 0.0
    return [flat.mean(), spread, p10, p50, p90, skew, kurtosis, centre.mean(), centre.std()]


def _texture(image: np.ndarray) -> list[float]:
    levels = 32
    quantised = np.clip((image * (levels - 1)).round(), 0, levels - 1).astype(np.uint8)
    matrix = graycomatrix(quantised, distances=[1, 2], angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                          levels=levels, symmetric=True, normed=True)
    return [float(np.nan_to_num(graycoprops(matrix, name)).mean()) for name in _TEXTURE]


def _shape(image: np.ndarray) -> list[float]:
    size = image.shape[0]
    threshold = threshold_otsu(image) if image.max() > image.min() else image.max() + 1
    regions = label(image > threshold)
    centre_label = regions[size // 2, size // 2]
    if centre_label == 0:  # nothing bright under the centre: no region to describe
        return [0.0] * len(_SHAPE)
    region = regionprops((regions == centre_label).astype(np.uint8))[0]
    minor = max(region.axis_minor_length, 1e-6)
    return [region.area / size**2, region.perimeter / max(region.area, 1), region.eccentricity, region.solidity,
            region.extent, region.axis_major_length / minor, float(region.euler_number)]


def patch_features(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    return np.array(_intensity(image) + _texture(image) + _shape(image), dtype=np.float64)


def _features_of(images: np.ndarray) -> np.ndarray:
    return np.stack([patch_features(image) for image in images])


def _may_start_processes() -> bool:
    """Whether this process may make the POSIX semaphores (files in /dev/shm) that a pool of processes, and
    multiprocessing's and joblib's thread pools, need. Behind lidcbench's wall, which refuses /dev/shm to the
    process that fits, it may not: a pool there fails with PermissionError."""
    import multiprocessing

    try:
        multiprocessing.Lock()
    except OSError:
        return False
    return True


def feature_matrix(images: np.ndarray, n_jobs: int = -1) -> np.ndarray:
    """Features of every patch, one row each, in patch order (on all cores: ~4 ms a 64-pixel patch).
    ``n_jobs`` as joblib's (-1: every core)."""
    if len(images) == 0:
        return np.empty((0, len(FEATURE_NAMES)))
    if len(images) < PARALLEL_FROM:
        return _features_of(images)
    chunks = np.array_split(np.arange(len(images)), max(1, len(images) // 256))
    if _may_start_processes():
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs)(delayed(_features_of)(np.asarray(images[chunk])) for chunk in chunks)
    else:  # concurrent.futures' threads need no semaphore file; the features are the same, made more slowly
        from concurrent.futures import ThreadPoolExecutor

        workers = max(1, (os.cpu_count() or 1) + 1 + n_jobs) if n_jobs < 0 else n_jobs
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda chunk: _features_of(np.asarray(images[chunk])), chunks))
    return np.concatenate(parts)
