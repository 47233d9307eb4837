"""Result records: one JSON file per (method, fold, seed), saying how each number was made.

A record holds the per-nodule predictions of one test fold, its metrics
(:func:`lidcbench.scoring.score.score_fold`) and provenance. Records live at
``<results>/<setting>/<method>/fold<k>-seed<s>.json``, where ``setting``
names the protocol hash, the pixel source and its settings, and the
profile, so that runs under different settings never overwrite each other
and a leaderboard groups them by setting.

Writing is atomic (a temporary file, then ``os.replace``), so a crash
never leaves a half-written record; a record that is nonetheless unreadable
(hand-edited, a merge conflict) stops :func:`read_records` with an error
naming it, because a leaderboard silently missing a fold would misreport.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import secrets
import subprocess
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from lidcbench.errors import RecordError

SCHEMA_VERSION = 1
DEFAULT_RESULTS = Path("results")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")  # method, source and profile names are folder names
FILE_NAME = re.compile(r"^fold(\d+)-seed(\d+)\.json$")
NODULE_COLUMNS = ("nodule_id", "label", "diameter_mm", "malignancy")  # always present; attributes optional
METRIC_KEYS = ("nodules", "classification", "by_size", "size_column", "attributes")  # score.score_fold's
PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "scikit-image", "torch", "torchvision", "timm",
            "pylidc", "pydicom", "matplotlib")


def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise RecordError(f"{kind} name {name!r} cannot name a results folder: use letters, digits and . _ + -, "
                          "starting with a letter or digit.")
    return name


def board_key(protocol_hash: str, source: str, source_settings: dict[str, Any],
              variant: dict[str, Any] | None = None) -> str:
    """Records under one protocol and source (with its settings): one leaderboard page. An evaluation
    variant (:mod:`lidcbench.protocol.variants`) adds its name and hash, so its records never share a board."""
    settings = json.dumps(source_settings, sort_keys=True, default=str)
    digest = hashlib.sha256(settings.encode()).hexdigest()[:8]
    suffix = f"-{check_name('variant', variant['name'])}-{variant['hash']}" if variant else ""
    return f"{protocol_hash}-{check_name('source', source)}-{digest}{suffix}"


def setting_key(protocol_hash: str, source: str, source_settings: dict[str, Any], profile: str,
                variant: dict[str, Any] | None = None) -> str:
    """The folder of every record made under one protocol, source (with its settings), profile and variant."""
    return f"{board_key(protocol_hash, source, source_settings, variant)}-{check_name('profile', profile)}"


def record_path(out_dir: str | Path, method: str, fold: int, seed: int, *, setting: str) -> Path:
    """Where the record of (method, fold, seed) under ``setting`` (:func:`setting_key`) lives."""
    return Path(out_dir) / setting / check_name("method", method) / f"fold{int(fold)}-seed{int(seed)}.json"


@lru_cache(maxsize=1)  # the code in memory is the code of the first call: ask git once per process
def _git_commit() -> tuple[str | None, bool | None]:
    """(commit, uncommitted changes?) of the checkout lidcbench runs from, or (None, None)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None  # an installed wheel, or no git: the version still identifies the code
    return commit, bool(status.strip())


def _package_versions() -> dict[str, str]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class Provenance:
    """Where and when a record was made."""

    lidcbench_version: str
    git_commit: str | None
    git_dirty: bool | None
    device: str
    python: str
    packages: dict[str, str]
    wall_time_s: float | None
    timestamp: str
    # What decides whether a rerun gives the same numbers (None in records made before they were kept):
    # torch's intra-op thread count and whether torch.use_deterministic_algorithms was on.
    threads: int | None = None
    deterministic_algorithms: bool | None = None
    plugin_api_version: int | None = None  # lidcbench.method.PLUGIN_API_VERSION (None: records made before)
    # lidcbench.plugins.codedigest.method_code_digest of the method that ran (None: made before digests were
    # kept, or predictions made outside lidcbench), so that a page can tell a record of older code.
    method_code: str | None = None
    # What kept the labels out of the method's reach: "wall", "tripwire" or "off" (lidcbench.running.isolation);
    # None in records made before it was kept.
    isolation: str | None = None
    # The epoch a job resumed from its checkpoint after (lidcbench.training.checkpoints); None when it ran
    # straight through (and in records made before it was kept). wall_time_s then counts every part's
    # training up to its last checkpoint, and the last part whole.
    resumed_from_epoch: int | None = None
    # The warnings the method's fit and predict gave, one line each (lidcbench.running.warning_line.summary);
    # [] for none, None in records made before they were kept.
    warnings: list[str] | None = None

    @classmethod
    def collect(cls, device: str, wall_time_s: float | None, method_code: str | None = None,
                isolation: str | None = None, resumed_from_epoch: int | None = None,
                warnings: list[str] | None = None) -> Provenance:
        from lidcbench import __version__
        from lidcbench.plugins.method import PLUGIN_API_VERSION

        commit, dirty = _git_commit()
        threads, deterministic = _torch_numerics()
        return cls(__version__, commit, dirty, device, platform.python_version(), _package_versions(),
                   None if wall_time_s is None else float(wall_time_s),
                   datetime.now(timezone.utc).isoformat(timespec="seconds"), threads, deterministic,
                   PLUGIN_API_VERSION, method_code, isolation, resumed_from_epoch,
                   None if warnings is None else list(warnings))


def _torch_numerics() -> tuple[int | None, bool | None]:
    try:
        import torch
    except ImportError:
        return None, None
    return torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()


def _plain(value: Any) -> Any:
    """JSON-ready copy of method parameters and settings (tuples, numpy scalars, paths)."""
    return json.loads(json.dumps(value, sort_keys=True,
                                 default=lambda v: v.item() if hasattr(v, "item") else str(v)))


@dataclass(frozen=True)
class RunRecord:
    """One method's predictions and metrics on one test fold, with provenance.

    ``nodules``: per-nodule predictions as ``{"columns": [...], "rows": [[...], ...]}``
    with at least :data:`NODULE_COLUMNS` (attributes on the [0, 1] scale when predicted).
    """

    method: str
    fold: int
    seed: int
    profile: str
    method_params: dict[str, Any]
    source: str
    source_settings: dict[str, Any]
    protocol_hash: str
    protocol: dict[str, Any]
    folds_version: int
    metrics: dict[str, Any]
    nodules: dict[str, Any]
    provenance: Provenance
    schema_version: int = SCHEMA_VERSION
    # How much of the cohort had pixels (lidcbench.results.coverage.fold_record); None in records made before it was kept.
    coverage: dict[str, Any] | None = None
    # The evaluation variant (lidcbench.protocol.variants.Variant.to_record): None on the protocol itself.
    variant: dict[str, Any] | None = None
    # Values the method chose while fitting (e.g. lasso's alpha by inner cross-validation), {} for none;
    # None in records made before they were kept.
    selected_params: dict[str, Any] | None = None

    @property
    def setting(self) -> str:
        return setting_key(self.protocol_hash, self.source, self.source_settings, self.profile, self.variant)

    @property
    def board(self) -> str:
        return board_key(self.protocol_hash, self.source, self.source_settings, self.variant)

    def nodule_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.nodules["rows"], columns=self.nodules["columns"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RunRecord:
        """Build from a parsed record, checking the schema version, field names and types."""
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        found = document.get("schema_version")
        if found != SCHEMA_VERSION:
            raise ValueError(f"schema version {found}, this lidcbench reads {SCHEMA_VERSION}: re-run the method "
                             "or use the lidcbench version that wrote it")
        # Fields records made before they were kept lack.
        document = {"coverage": None, "variant": None, "selected_params": None, **document}
        names = {f.name for f in fields(cls)}
        if set(document) != names:
            raise ValueError(f"fields differ from the schema: missing {sorted(names - set(document))}, "
                             f"unexpected {sorted(set(document) - names)}")
        provenance = Provenance(**document["provenance"])
        record = cls(**{**document, "provenance": provenance})
        for name, kind in (("method", str), ("fold", int), ("seed", int), ("profile", str), ("source", str),
                           ("protocol_hash", str), ("folds_version", int), ("method_params", dict),
                           ("source_settings", dict), ("protocol", dict), ("metrics", dict), ("nodules", dict)):
            if not isinstance(getattr(record, name), kind):
                raise ValueError(f"{name} is not a {kind.__name__}")
        for name in ("coverage", "selected_params"):
            if getattr(record, name) is not None and not isinstance(getattr(record, name), dict):
                raise ValueError(f"{name} is not a dict")
        if record.variant is not None and not (isinstance(record.variant, dict)
                                               and {"name", "hash", "split", "labels"} <= set(record.variant)):
            raise ValueError("variant is not a dict with name, hash, split and labels")
        columns, rows = record.nodules.get("columns"), record.nodules.get("rows")
        if not isinstance(columns, list) or not set(NODULE_COLUMNS) <= set(columns) or not isinstance(rows, list) \
                or any(not isinstance(row, list) or len(row) != len(columns) for row in rows):
            raise ValueError(f"nodules must hold columns {list(NODULE_COLUMNS)} and rows of that length")
        if not set(METRIC_KEYS) <= set(record.metrics):
            raise ValueError(f"metrics lack {sorted(set(METRIC_KEYS) - set(record.metrics))}")
        return record


def new_record(*, method: str, fold: int, seed: int, profile: str, method_params: dict[str, Any], source: str,
               source_settings: dict[str, Any], protocol, folds_version: int, nodules: pd.DataFrame,
               metrics: dict[str, Any], device: str, wall_time_s: float | None,
               coverage: dict[str, Any] | None = None, method_code: str | None = None,
               variant: dict[str, Any] | None = None, selected_params: dict[str, Any] | None = None,
               isolation: str | None = None, resumed_from_epoch: int | None = None,
               warnings: list[str] | None = None) -> RunRecord:
    """A record with provenance collected now. ``protocol``: a :class:`lidcbench.protocol.rules.Protocol`;
    ``nodules``: :func:`lidcbench.scoring.score.nodule_predictions` of the fold; ``method_code``: the
    method's code digest (:func:`lidcbench.plugins.codedigest.method_code_digest`)."""
    missing = [c for c in NODULE_COLUMNS if c not in nodules.columns]
    assert not missing, f"nodule predictions lack {missing}"  # score.nodule_predictions always has them
    check_name("method", method)
    table = nodules.reset_index(drop=True)
    return RunRecord(
        method=method, fold=int(fold), seed=int(seed), profile=profile, method_params=_plain(method_params),
        source=source, source_settings=_plain(source_settings), protocol_hash=protocol.hash,
        protocol=protocol.to_dict(), folds_version=int(folds_version), metrics=_plain(metrics),
        nodules=_plain({"columns": list(table.columns), "rows": table.to_numpy().tolist()}),
        provenance=Provenance.collect(device, wall_time_s, method_code, isolation, resumed_from_epoch, warnings),
        coverage=_plain(coverage),
        variant=_plain(variant),
        selected_params=_plain(selected_params if selected_params is not None else {}),
    )


def to_json(record: RunRecord) -> str:
    """Indented JSON, one nodule per line so that a changed prediction is a one-line diff."""
    document = record.to_dict()
    nodules = document.pop("nodules")
    head = json.dumps(document, indent=1, allow_nan=False)
    rows = ",\n".join("   " + json.dumps(row, allow_nan=False) for row in nodules["rows"])
    return (head[:-2] + ',\n "nodules": {\n  "columns": ' + json.dumps(nodules["columns"])
            + ',\n  "rows": [\n' + rows + "\n  ]\n }\n}\n")


def write_record(record: RunRecord, out_dir: str | Path = DEFAULT_RESULTS) -> Path:
    """Write atomically to :func:`record_path`; returns the path."""
    path = record_path(out_dir, record.method, record.fold, record.seed, setting=record.setting)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(record)
    # A hidden temporary name that read_records never matches; os.open honours the umask
    # (tempfile would leave the record readable by its owner only).
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def read_record(path: str | Path) -> RunRecord:
    path = Path(path)
    try:
        record = RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise RecordError(f"{path}: {error}") from None
    expected = record_path(path.parents[2], record.method, record.fold, record.seed, setting=record.setting)
    if expected != path:
        raise RecordError(f"{path}: its content (method {record.method}, fold {record.fold}, seed {record.seed}, "
                          f"setting {record.setting}) belongs at {expected}; move it there or re-run")
    return record


def read_records(out_dir: str | Path = DEFAULT_RESULTS) -> list[RunRecord]:
    """Every record under ``out_dir`` (none if it does not exist), sorted by setting, method, seed, fold.

    Raises one :class:`RecordError` naming every unreadable record. Temporary
    files of writes in progress are never read.
    """
    out_dir = Path(out_dir)
    paths = sorted(p for p in out_dir.glob("*/*/fold*-seed*.json") if FILE_NAME.match(p.name))
    records, problems = [], []
    for path in paths:
        try:
            records.append(read_record(path))
        except RecordError as error:
            problems.append(str(error))
    if problems:
        raise RecordError(f"{len(problems)} unreadable result record(s); fix or delete them, then retry:\n- "
                          + "\n- ".join(problems))
    return sorted(records, key=lambda r: (r.setting, r.method, r.seed, r.fold))
