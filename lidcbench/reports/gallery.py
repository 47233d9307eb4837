"""The most confident mistakes of a method, as the patches it saw, and the nodules every method gets wrong.

A false positive is a benign nodule (the per-nodule label of the main table)
with a probability of 0.5 or more; the most confident are those with the
highest probability. A false negative is a malignant one below 0.5, the most
confident with the lowest. Each is shown by its central patch (the middle of
the slices it spans) from the source the records name, so that a reader of
the page sees what the method saw.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lidcbench.errors import LidcbenchError
from lidcbench.scoring.metrics import THRESHOLD

from .figures import new_figure, save_png

PER_KIND = 8  # mistakes shown of each kind


def most_confident_mistakes(nodules: pd.DataFrame, n: int = PER_KIND) -> dict[str, pd.DataFrame]:
    """``{"false positives": ..., "false negatives": ...}``, up to ``n`` each, the most confident first
    (ties broken by nodule id, so the choice is repeatable). ``nodules``: nodule_id, label, malignancy."""
    called = nodules["malignancy"] >= THRESHOLD
    positives = nodules[called & (nodules["label"] == 0)]
    negatives = nodules[~called & (nodules["label"] == 1)]
    return {
        "false positives": positives.sort_values(["malignancy", "nodule_id"], ascending=[False, True]).head(n),
        "false negatives": negatives.sort_values(["malignancy", "nodule_id"], ascending=[True, True]).head(n),
    }


def wrong_everywhere(entries: Sequence[pd.DataFrame]) -> list[str]:
    """Nodules that every entry scored and every entry calls wrong at 0.5, sorted by nodule id."""
    wrong = [set(e.loc[(e["malignancy"] >= THRESHOLD) != (e["label"] == 1), "nodule_id"]) for e in entries]
    return sorted(set.intersection(*wrong)) if wrong else []


def central_patches(patches, nodule_ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The middle patch of each nodule's slices (``patches``: :class:`lidcbench.patches.Patches`)."""
    central = {}
    for nodule_id in nodule_ids:
        images = patches.select([nodule_id]).images
        central[nodule_id] = images[len(images) // 2]
    return central


def source_patches(record, cohort):
    """The cohort's patches from the source and settings ``record`` was made with (from the cache, built
    on first use). Raises :class:`LidcbenchError` saying why when they cannot be had."""
    from lidcbench.patches.cache import load_patches
    from lidcbench.patches.sources import make_source

    if record.source == "external":
        raise LidcbenchError("the predictions were made outside lidcbench, so the records name no pixel source")
    if record.source_settings.get("kind") == "volume":
        # Drawing them would build the whole cohort's cubes (minutes at 64^3) for one figure.
        raise LidcbenchError("the method saw cubes, and galleries show 2D patches")
    size = record.source_settings.get("patch_size")
    source = make_source(record.source)  # ct: finds the DICOM root or raises, saying how to give one
    expected = {**source.settings(), "patch_size": size}
    if expected != record.source_settings:
        raise LidcbenchError(f"source {record.source!r} now makes other pixels than the records' (its settings "
                             "differ), so the patches the method saw cannot be shown")
    return load_patches(cohort, source, size=int(size), progress=False, allow_missing=True)


def _caption(row, cohort_row, kind: str) -> str:
    ratings = ",".join(str(r) for r in cohort_row["readers_malignancy"])
    return (f"{row.nodule_id.removeprefix('LIDC-IDRI-')}\n{cohort_row['diameter_mean_mm']:.1f} mm, "
            f"readers {ratings}\np = {row.malignancy:.3f} ({kind})")


def write_gallery(title: str, mistakes: dict[str, pd.DataFrame], images: dict[str, np.ndarray],
                  table: pd.DataFrame, path: Path) -> None:
    """One row of patches per kind of mistake, each captioned with its nodule id (without the
    ``LIDC-IDRI-`` prefix), mean diameter, the readers' malignancy ratings and the probability."""
    by_id = table.set_index("nodule_id")
    columns = max(PER_KIND, 1)
    figure = new_figure(1.45 * columns, 2 * 2.05 + 0.4)
    axes = figure.subplots(2, columns, squeeze=False)
    for line, (kind, frame) in enumerate(mistakes.items()):
        short = "FP" if kind == "false positives" else "FN"
        for column in range(columns):
            ax = axes[line, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(frame):
                ax.axis("off")
                if column == 0:
                    ax.text(0.5, 0.5, f"no {kind}", ha="center", va="center", fontsize=8)
                continue
            row = frame.iloc[column]
            ax.imshow(images[row.nodule_id], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xlabel(_caption(row, by_id.loc[row.nodule_id], short), fontsize=6)
        axes[line, 0].set_ylabel(f"most confident\n{kind}", fontsize=8)
    figure.suptitle(title, fontsize=9)
    save_png(figure, path)


def gallery_from_patches(title: str, nodules: pd.DataFrame, patches, table: pd.DataFrame, path: Path
                         ) -> dict[str, pd.DataFrame]:
    """Choose the mistakes among the nodules ``patches`` holds (all, unless scans are missing), write their
    gallery to ``path`` and return them."""
    available = nodules[nodules["nodule_id"].isin(set(patches.nodule_ids))]
    mistakes = most_confident_mistakes(available)
    shown = [n for frame in mistakes.values() for n in frame["nodule_id"]]
    write_gallery(title, mistakes, central_patches(patches, shown), table, path)
    return mistakes
