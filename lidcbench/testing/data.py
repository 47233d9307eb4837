"""Small synthetic patches for real cohort nodules: data for conformance checks.

The pixels are a seeded disc on noise, sized by the nodule's diameter
relative to the cohort's largest: geometry only, so a method can learn a
little (size relates to malignancy) and nothing about real CT.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from lidcbench.patches import Patches
from lidcbench.patches.volumes import Volumes
from lidcbench.plugins.method import FoldData
from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.folds import load_folds


def _render(table: pd.DataFrame, size: int, seed: int) -> Patches:
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, size)
    radius_map = np.hypot(*np.meshgrid(grid, grid))
    images, ids, slices = [], [], []
    for row in table.itertuples():
        radius = 0.2 + 0.6 * row.diameter_mean_mm / 30.0
        for slice_index in row.slices[:3]:  # a few slices per nodule keep checks fast
            image = 0.15 + 0.05 * rng.standard_normal((size, size))
            image[radius_map <= radius] += 0.6
            images.append(np.clip(image, 0, 1))
            ids.append(row.nodule_id)
            slices.append(slice_index)
    return Patches(images=np.stack(images).astype(np.float32), nodule_ids=np.array(ids),
                   slice_indices=np.array(slices, dtype=int), source="synthetic",
                   settings={"size": size, "seed": seed, "rule": "disc on noise"}, key=f"synthetic-{size}-{seed}")


def _render_volumes(table: pd.DataFrame, size: int, seed: int) -> Volumes:
    """One cube per nodule: a ball on noise, its radius following the nodule's diameter."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, size)
    radius_map = np.sqrt(sum(axis ** 2 for axis in np.meshgrid(grid, grid, grid, indexing="ij")))
    images = np.empty((len(table), size, size, size), dtype=np.float32)
    for index, row in enumerate(table.itertuples()):
        cube = 0.15 + 0.05 * rng.standard_normal((size, size, size))
        cube[radius_map <= 0.2 + 0.6 * row.diameter_mean_mm / 30.0] += 0.6
        images[index] = np.clip(cube, 0, 1)
    return Volumes(images=images, nodule_ids=table["nodule_id"].to_numpy(dtype=str), source="synthetic",
                   settings={"kind": "volume", "size": size, "seed": seed, "rule": "ball on noise"},
                   key=f"synthetic-volume-{size}-{seed}")


def synthetic_split(n_train: int = 48, n_test: int = 16, size: int = 32, seed: int = 0,
                    kind: str = "slices") -> tuple[FoldData, FoldData]:
    """(labelled train, unlabelled test): nodules of folds 1-4 and of fold 0, both classes present.
    ``kind``: "slices" (2D patches, a few slices a nodule) or "volume" (one cube a nodule)."""
    cohort = load_cohort()
    train_table, test_table = load_folds().split(cohort, 0)

    def pick(table: pd.DataFrame, n: int) -> pd.DataFrame:
        per_class = [group.sample(n=min(len(group), n // 2), random_state=seed) for _, group in table.groupby("label")]
        return pd.concat(per_class).sort_values("nodule_id").reset_index(drop=True)

    train_table, test_table = pick(train_table, n_train), pick(test_table, n_test)
    render = _render_volumes if kind == "volume" else _render
    train = FoldData(train_table, render(train_table, size, seed), labelled=True)
    test = FoldData.unlabelled(test_table, render(test_table, size, seed + 1))
    return train, test
