"""A volume method on a user's NoduleMNIST3D file, on MedMNIST's own train/test split.

``lidcbench run METHOD --source medmnist --medmnist-npz nodulemnist3d.npz``: the
method fits on ``train_images``/``train_labels`` and predicts ``test_images`` in
the guarded child (the ``.npz`` itself, which holds the test labels, is refused
to it like the annotation database); ``val_*`` is checked but not used, since
the protocol's methods choose nothing on a validation set. The test predictions
are scored by MedMNIST's own definitions (ACC: score > 0.5 against the label;
AUC: scikit-learn's ROC AUC) and by our scorer's (Acc/Sen/Spe at >= 0.5, AUC with
its bootstrap interval). MedMNIST's split is by nodule, not patient: the numbers
are not comparable with the protocol's leaderboards, and go in a record of their
own, ``<out>/medmnist/<method>-<file digest>-seed<k>.json``. On a file made by
``lidcbench export medmnist`` (its sidecar beside it, naming the file's SHA-256)
the record says the split is the protocol's patient-grouped folds.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lidcbench.errors import LidcbenchError, SourceError
from lidcbench.patches.volumes import Volumes
from lidcbench.plugins.method import FoldData
from lidcbench.protocol.attributes import RATINGS

SPLITS = ("train", "val", "test")
MEDMNIST_THRESHOLD = 0.5  # MedMNIST's getACC: a score above it counts as positive


def read_medmnist(path: Path | str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """split -> (images (N, S, S, S) uint8, labels (N,) 0/1), checked against NoduleMNIST3D's layout."""
    path = Path(path)
    try:
        data = np.load(path)
    except (OSError, ValueError) as error:
        raise SourceError(f"cannot read {path} as a NoduleMNIST3D .npz ({error}).") from None
    wanted = [f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels")]
    absent = [key for key in wanted if key not in data.files]
    if absent:
        raise SourceError(f"{path} is not in NoduleMNIST3D's layout: it lacks {', '.join(absent)}.")
    splits = {}
    for split in SPLITS:
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        if images.ndim != 4 or len(set(images.shape[1:])) != 1 or images.dtype != np.uint8:
            raise SourceError(f"{path}: {split}_images is {images.dtype} {images.shape}; NoduleMNIST3D's are "
                              "uint8 (N, S, S, S).")
        if labels.shape != (len(images), 1) or not np.isin(labels, (0, 1)).all():
            raise SourceError(f"{path}: {split}_labels is {labels.shape}; NoduleMNIST3D's are (N, 1) of 0 and 1.")
        splits[split] = (images, labels[:, 0].astype(int))
    return splits


def _fold_data(split: str, images: np.ndarray, labels: np.ndarray, digest: str, labelled: bool) -> FoldData:
    ids = np.array([f"medmnist-{split}-{i:05d}" for i in range(len(images))])
    nodules = pd.DataFrame({"nodule_id": ids, "label": labels,
                            **{f"target_{r.name}": np.nan for r in RATINGS}})  # MedMNIST has no ratings
    volumes = Volumes(images=(images.astype(np.float32) / 255).astype(np.float16), nodule_ids=ids, source="medmnist",
                      settings={"kind": "volume", "voxel_mm": 1.0, "medmnist_npz_sha256": digest,
                                "pixels": "uint8 / 255"}, key=f"medmnist-{digest[:12]}")
    return FoldData(nodules, volumes, labelled=True) if labelled else FoldData.unlabelled(nodules, volumes)


def medmnist_scores(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """MedMNIST's ACC and AUC beside our scorer's metrics and AUC interval."""
    from sklearn.metrics import roc_auc_score

    from lidcbench.scoring.metrics import bootstrap_auc_ci, classification_metrics

    return {"medmnist": {"acc": float(np.mean((scores > MEDMNIST_THRESHOLD) == labels)),
                         "auc": float(roc_auc_score(labels, scores))},
            "lidcbench": {**classification_metrics(labels, scores), "auc_ci": bootstrap_auc_ci(labels, scores)}}


def _split(npz: Path, digest: str) -> dict[str, Any]:
    """What the file's train/test split is: the protocol's folds where ``lidcbench export medmnist``'s sidecar
    beside it names these very bytes, otherwise the file's own (MedMNIST's NoduleMNIST3D splits by nodule)."""
    use = "fit on train, scored on test; val unused"
    try:
        sidecar = json.loads(npz.with_suffix(".json").read_text())
    except (OSError, ValueError):
        sidecar = None
    if isinstance(sidecar, dict) and sidecar.get("npz_sha256") == digest:
        folds = sidecar["folds"]
        return {"kind": "lidcbench-export", "protocol_hash": sidecar["protocol_hash"],
                "folds_version": sidecar["folds_version"], "folds": folds,
                "text": f"lidcbench's export: protocol {sidecar['protocol_hash']}'s patient-grouped folds (test "
                        f"fold {', '.join(map(str, folds['test']))}, training folds "
                        f"{', '.join(map(str, folds['train']))}); {use}"}
    return {"kind": "file", "text": "the file's own (NoduleMNIST3D's is MedMNIST's, by nodule); " + use}


def run_medmnist(resolved, npz: Path | str, out_dir: Path | str) -> tuple[dict[str, Any], Path]:
    """Fit the planned volume method on the file's train split, score its test split, write the record."""
    from lidcbench import __version__
    from lidcbench.plugins.codedigest import method_code_digest
    from lidcbench.protocol.database import default_db_path
    from lidcbench.results.records import _git_commit

    from .isolation import fit_predict, label_sources

    if resolved.patch_kind != "volume":
        raise LidcbenchError(f"method {resolved.job.method!r} takes 2D slices; the medmnist source holds cubes "
                             "only (a method with patch_kind = 'volume' runs on it).")
    npz = Path(npz).resolve()
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    splits = read_medmnist(npz)
    train = _fold_data("train", *splits["train"], digest, labelled=True)
    test = _fold_data("test", *splits["test"], digest, labelled=False)
    refused = (*label_sources(default_db_path(), [out_dir]), str(npz))
    fitted = fit_predict(resolved.method_class, resolved.params, train, test, refused, name=resolved.job.method)
    scores = fitted.predictions.set_index("nodule_id")["malignancy"].reindex(test.patches.nodule_ids).to_numpy()
    if np.isnan(scores).any():
        raise LidcbenchError(f"method {resolved.job.method!r} left test cubes without a prediction.")
    record = {
        "schema": "lidcbench-medmnist-1", "method": resolved.job.method, "profile": resolved.profile,
        "seed": resolved.job.seed, "method_params": fitted.params, "method_code": method_code_digest(resolved.method_class),
        "npz": {"name": npz.name, "sha256": digest, "size": int(splits["test"][0].shape[-1]),
                **{split: {"n": len(labels), "malignant": int(labels.sum())} for split, (_, labels) in splits.items()}},
        "split": _split(npz, digest),
        "metrics": medmnist_scores(splits["test"][1], scores),
        "isolation": fitted.isolation, "wall_time_s": fitted.seconds, "device": resolved.device,
        "warnings": list(fitted.warnings),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "lidcbench_version": __version__,
        "git_commit": _git_commit()[0],
    }
    path = Path(out_dir) / "medmnist" / f"{resolved.job.method}-{digest[:12]}-seed{resolved.job.seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=float))
    return record, path
