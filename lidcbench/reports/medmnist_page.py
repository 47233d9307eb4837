"""The page "NoduleMNIST3D": lidcbench's volume methods on NoduleMNIST3D-layout files, beside MedMNIST's baselines.

Built by :mod:`lidcbench.reports.regenerate` from the records that
``lidcbench run METHOD --source medmnist --medmnist-npz FILE`` writes
(:mod:`lidcbench.running.medmnist`, ``<results>/medmnist/*.json``); the same
records give the same bytes. Each record is one row: the file (its size and
digest), whose split it is (the file's own, or the protocol's folds where
``lidcbench export medmnist`` made it), MedMNIST's ACC and AUC and our scorer's
metrics. MedMNIST's published NoduleMNIST3D baselines follow as reported rows
(:mod:`lidcbench.reports.medmnist_paper`), never mixed with ours.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lidcbench.errors import RecordError
from lidcbench.scoring.metrics import CONFIDENCE, N_RESAMPLES

from . import medmnist_paper

PAGE = "nodulemnist3d.md"
SCHEMA = "lidcbench-medmnist-1"


@dataclass(frozen=True)
class MedmnistRow:
    path: Path
    record: dict[str, Any]

    @property
    def label(self) -> str:
        profile = self.record["profile"]
        return self.record["method"] + ("" if profile == "default" else f" ({profile})")

    @property
    def split(self) -> str:
        split = self.record["split"]
        return split["text"] if isinstance(split, dict) else str(split)


def read_medmnist_records(results_dir: Path) -> list[MedmnistRow]:
    """Every NoduleMNIST3D record under ``results_dir/medmnist/``, in file-name order."""
    rows, problems = [], []
    for path in sorted((Path(results_dir) / "medmnist").glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            problems.append(f"{path}: {error}")
            continue
        if not isinstance(record, dict) or record.get("schema") != SCHEMA:
            problems.append(f"{path}: not a {SCHEMA} record")
            continue
        rows.append(MedmnistRow(path, record))
    if problems:
        raise RecordError(f"{len(problems)} unreadable NoduleMNIST3D record(s); fix or delete them, then retry:\n- "
                          + "\n- ".join(problems))
    return rows


def _counts(npz: dict[str, Any], split: str) -> str:
    return f"{npz[split]['n']} ({npz[split]['malignant']})"


def _row(row: MedmnistRow) -> list[str]:
    record = row.record
    npz, theirs, ours = record["npz"], record["metrics"]["medmnist"], record["metrics"]["lidcbench"]
    low, high = ours["auc_ci"]
    return [row.label, str(record["seed"]), f"`{npz['name']}` ({npz['size']}³, sha256 {npz['sha256'][:12]})",
            row.split, _counts(npz, "train"), _counts(npz, "test"), f"{theirs['acc']:.3f}", f"{theirs['auc']:.3f}",
            f"{100 * ours['accuracy']:.1f}", f"{100 * ours['sensitivity']:.1f}", f"{100 * ours['specificity']:.1f}",
            f"{ours['auc']:.3f} [{low:.3f}, {high:.3f}]", record["isolation"]]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(row) + " |" for row in rows)]


def medmnist_markdown(rows: list[MedmnistRow], mark: str) -> str:
    ours = _table(["Method", "Seed", "File", "Split", "Train cubes (malignant)", "Test cubes (malignant)",
                   "MedMNIST ACC ↑", "MedMNIST AUC ↑", "Acc (%) ↑", "Sen (%) ↑", "Spe (%) ↑",
                   "AUC [95% CI] ↑", "Labels kept out by"], [_row(r) for r in rows])
    reported = _table(["Method", "AUC ↑", "ACC ↑"],
                      [[f"{name} ({medmnist_paper.MARK})", f"{auc:.3f}", f"{acc:.3f}"]
                       for name, auc, acc in medmnist_paper.NODULEMNIST3D])
    lines = [
        mark, "# NoduleMNIST3D: our methods on MedMNIST's layout", "",
        "MedMNIST's NoduleMNIST3D holds LIDC-IDRI nodules as 1 mm cubes with a benign/malignant label, on a "
        "train/validation/test split of its own that is made by nodule, not by patient. `lidcbench run METHOD "
        "--source medmnist --medmnist-npz FILE` fits a volume method on a file's training cubes and scores its test "
        "cubes; `lidcbench export medmnist` writes our cohort's `contours` cubes in the same layout on the "
        "protocol's patient-grouped folds ([sources](../docs/sources.md#the-cubes-in-nodulemnist3ds-layout)). "
        "The numbers here never join the protocol's leaderboards: one test split, not five folds.", "",
        "## Runs", "",
        "One row per record (`medmnist/` in the results folder). MedMNIST ACC and AUC: MedMNIST's own "
        "definitions (a score above 0.5 counts as malignant; scikit-learn's ROC AUC). Acc, Sen, Spe: ours, at a "
        f"probability of 0.5 or more; AUC with a {CONFIDENCE:.0%} percentile bootstrap interval over the test "
        f"cubes ({N_RESAMPLES} seeded resamples). The validation cubes are not used: the protocol's methods "
        "choose nothing on a validation set.", "",
        *ours, "",
        "## MedMNIST's published baselines", "",
        f"{medmnist_paper.SOURCE}: {medmnist_paper.WHAT}", "",
        *reported, "",
        "They are not comparable number for number with the rows above: "
        + medmnist_paper.NOT_COMPARABLE, "",
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
