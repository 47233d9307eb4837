"""The cohort's cubes in MedMNIST's NoduleMNIST3D layout, on the protocol's patient-grouped folds.

An ``.npz`` with ``train_images``, ``train_labels``, ``val_images``, ``val_labels``,
``test_images`` and ``test_labels``, as NoduleMNIST3D stores them: images uint8
(N, S, S, S), labels uint8 (N, 1), 1 for malignant. The images are the
``contours`` source's cubes (1 mm voxels, lung window [-1350, 150] HU on
[0, 1]) times 255, rounded. The split is the protocol's frozen folds: one fold
for test, the next for validation, the other three for training, so no patient
is on two sides (NoduleMNIST3D's own split is by nodule). A sidecar JSON beside
the file names the protocol's hash, which fold went where, the nodule ids of
each split in file order, how the cubes were made, and the ``.npz``'s SHA-256
(so a run on the file can tell that this split is the protocol's).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from lidcbench.cachedir import write_atomically
from lidcbench.errors import PatchesError
from lidcbench.protocol.cohort import Cohort
from lidcbench.protocol.folds import Folds

from .volume_cache import load_volumes

MEDMNIST_SIZES = (28, 64)  # NoduleMNIST3D's two sizes
SPLITS = ("train", "val", "test")


def split_folds(test_fold: int, n_folds: int) -> dict[str, list[int]]:
    """Test: ``test_fold``; validation: the next fold; training: the others."""
    if not 0 <= test_fold < n_folds:
        raise PatchesError(f"test fold {test_fold} is not one of the protocol's folds 0-{n_folds - 1}.")
    val = (test_fold + 1) % n_folds
    return {"train": [f for f in range(n_folds) if f not in (test_fold, val)], "val": [val], "test": [test_fold]}


def export_medmnist(cohort: Cohort, folds: Folds, size: int, out: Path | str, test_fold: int = 0,
                    progress: bool = True) -> tuple[Path, Path]:
    """Write ``out`` (.npz) and its sidecar ``<out stem>.json``; returns both paths."""
    if size not in MEDMNIST_SIZES:
        raise PatchesError(f"NoduleMNIST3D comes at {' or '.join(map(str, MEDMNIST_SIZES))} voxels a side, "
                           f"not {size}.")
    out = Path(out)
    if out.suffix != ".npz":
        raise PatchesError(f"the export is an .npz file; {out} does not end in .npz.")
    mapping = split_folds(test_fold, folds.n_folds)
    volumes = load_volumes(cohort, "contours", size=size, voxel_mm=1.0, progress=progress)
    assigned = folds.assign(cohort)
    table = cohort.table.assign(fold=assigned.to_numpy())
    arrays: dict[str, np.ndarray] = {}
    ids: dict[str, list[str]] = {}
    for split, fold_list in mapping.items():
        rows = table[table["fold"].isin(fold_list)]
        ids[split] = rows["nodule_id"].tolist()
        cubes = np.asarray(volumes.select(ids[split]).images, dtype=np.float32)
        arrays[f"{split}_images"] = np.rint(np.clip(cubes, 0, 1) * 255).astype(np.uint8)
        arrays[f"{split}_labels"] = rows["label"].to_numpy(dtype=np.uint8)[:, None]
    sidecar = {
        "format": "NoduleMNIST3D layout (medmnist .npz): images uint8 (N, S, S, S), labels uint8 (N, 1), "
                  "1 = malignant",
        "protocol_hash": cohort.protocol.hash,
        "protocol": cohort.protocol.describe(),
        "folds_version": folds.version,
        "folds": mapping,
        "split_rule": "patient-grouped frozen folds: test fold, the next fold for validation, the rest training",
        "size": size,
        "images": "contours source cubes x 255, rounded: " + json.dumps(volumes.settings, sort_keys=True),
        "counts": {split: {"nodules": len(ids[split]), "malignant": int(arrays[f"{split}_labels"].sum())}
                   for split in SPLITS},
        "nodule_ids": ids,
        "cache_key": volumes.key,
    }
    npz = _npz_bytes(arrays)
    sidecar["npz_sha256"] = hashlib.sha256(npz).hexdigest()  # ties the sidecar to these bytes
    write_atomically(out, npz)
    side = out.with_suffix(".json")
    write_atomically(side, [json.dumps(sidecar, indent=1).encode()])
    return out, side


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
