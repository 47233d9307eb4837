"""A fold job's checkpointing: where its checkpoint lives, when it is saved, and the identity a
checkpoint must carry to be resumed (:mod:`lidcbench.training.checkpoints`).

The identity names each part that makes a checkpoint valid for the job, so that a
checkpoint saved under another value of any part is a fresh start with a note
naming that part: the method's code (its code digest, which covers lidcbench's
shared training code), the checkpoint module's own code, the data (the patch
cache key and the fold's training table and test nodules), the device type and
the parameters.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from lidcbench.plugins.codedigest import method_code_digest, module_code_digest
from lidcbench.training import checkpoints


def job_identity(method_class: type, params: dict[str, Any], device: str, patches_key: str,
                 train_table: pd.DataFrame, test_ids) -> dict[str, str]:
    """Part name -> value; the names are the words of the note when a part differs."""
    return {
        "method code": method_code_digest(method_class),
        "checkpoint code": module_code_digest(checkpoints),
        "data": data_digest(patches_key, train_table, test_ids),
        "device": device.split(":")[0],  # the type: a job resumed on another GPU of the same kind is the same
        "parameters": json.dumps(params, sort_keys=True, default=str),
    }


def data_digest(patches_key: str, train_table: pd.DataFrame, test_ids) -> str:
    """What the method trains on: the patch file's key (source, settings, protocol, nodules with pixels), the
    training table as the method receives it (labels and ratings included) and the test nodules."""
    digest = hashlib.sha256(patches_key.encode())
    digest.update(train_table.to_csv(index=False).encode())
    digest.update(json.dumps(sorted(map(str, test_ids))).encode())
    return digest.hexdigest()[:12]


def job_checkpointing(record: Path, label: str, every: int | None, minutes: float | None,
                      identity: dict[str, str] | None = None) -> checkpoints.Checkpointing:
    """The checkpointing of the job whose record goes to ``record`` (identity: :func:`job_identity`)."""
    return checkpoints.Checkpointing(checkpoints.checkpoint_path(record), every, identity or {}, minutes=minutes,
                                     label=label)
