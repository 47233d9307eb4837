"""Patches built once per (source, protocol, patch size, source settings), kept on disk.

:func:`load_patches` is the one way a method gets pixels. The first call renders
every cohort nodule on all cores behind a progress bar (:mod:`.rendering`) and
writes one file per key (:mod:`.patchfile`) atomically; later calls read it back, checking every
chunk. The key digests the file format version and the source's settings
(which carry the source's code version), so a file written by other code is
never found under the current key; a file that fails its checks is rebuilt.

Memory: patches come back as float16 mapped from the file (read-only, paged in
as used, shared by every load in the process), 1.45 GB for the default cohort
at 256 px (11094 x 256 x 256) and 0.09 GB at 64 px; building holds them in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lidcbench import __version__
from lidcbench.cachedir import TEMPORARY_SUFFIX, build_lock, cache_root, write_atomically
from lidcbench.errors import CacheError, MissingScansError, PatchesError
from lidcbench.protocol.cohort import Cohort

from . import Patches
from .patchfile import FORMAT_VERSION, STORED_DTYPE, Chunk, file_pieces, read_header, read_images
from .rendering import available_cores, render_all
from .sources import Source, make_source

PATCH_FOLDER = "patches"
SUFFIX = ".patches"
MIN_SIZE = 8


def patches_dir(cache_dir: Path | str | None = None) -> Path:
    return cache_root(cache_dir) / PATCH_FOLDER


def cache_key(source: Source, protocol_hash: str, size: int, nodule_ids: Sequence[str]) -> str:
    """``<source>-<protocol hash>-<size>px-<digest>``; the digest covers the file format,
    the source's settings and the nodules built (fewer when scans are missing)."""
    identity = {"format": FORMAT_VERSION, "source": source.name, "settings": source.settings(),
                "protocol": protocol_hash, "size": size,
                "nodules": hashlib.sha256("\n".join(nodule_ids).encode()).hexdigest()}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"{source.name}-{protocol_hash}-{size}px-{digest}"


def load_patches(cohort: Cohort, source: Source | str = "contours", size: int = 256, progress: bool = True,
                 cache_dir: Path | str | None = None, allow_missing: bool = False,
                 workers: int | None = None) -> Patches:
    """The cohort's patches from ``source`` at ``size`` px, built on first use and cached.

    Nodules whose scans the source cannot find raise :class:`MissingScansError`,
    naming them all; with ``allow_missing`` the others are built and the left-out
    ones are listed in ``Patches.missing``.
    """
    source = make_source(source) if isinstance(source, str) else source
    if not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise PatchesError(f"patch size must be a whole number of pixels >= {MIN_SIZE}, not {size!r}.")
    size = int(size)
    table = cohort.table
    missing = source.missing(table)
    if len(missing) and not allow_missing:
        raise MissingScansError(_missing_message(source, missing, table))
    kept = table[~table["nodule_id"].isin(missing["nodule_id"])]
    key = cache_key(source, cohort.protocol.hash, size, kept["nodule_id"].tolist())
    path = patches_dir(cache_dir) / f"{key}{SUFFIX}"
    console = _console() if progress else None
    started = time.time()
    if path.exists():
        try:
            return _read_once(path, key, kept)
        except CacheError as error:
            if console:
                console.print(f"[yellow]{error} Rebuilding it.[/]")
    # One build at a time: processes started together wait for the first one's file instead of each building it.
    with build_lock(path, on_wait=lambda: console and console.print(f"waiting for another process building {path}")):
        if path.exists() and os.path.getmtime(path) > started:  # the process we waited for built it
            return read_patches(path, key, kept)
        manifest = _manifest(key, source, cohort, size, kept, missing)
        return _build(path, manifest, source, kept, size, workers or available_cores(), console)


def read_patches(path: Path, key: str, kept: pd.DataFrame) -> Patches:
    """The patches in ``path``, checked against the key and the nodules expected."""
    header = read_header(path)
    manifest = header["manifest"]
    if manifest.get("key") != key:
        raise CacheError(f"{path} holds key {manifest.get('key')}, not {key}.")
    if manifest["nodule_ids"] != kept["nodule_id"].tolist() or \
            manifest["slice_counts"] != kept["slices"].map(len).tolist():
        raise CacheError(f"{path} holds other nodules than the cohort's.")
    size, counts = manifest["size"], manifest["slice_counts"]
    images = read_images(path, header, sum(counts), size)
    return _patches(images, manifest)


_OPENED: dict[tuple, Patches] = {}  # the files this process has opened, by identity on disk
_KEEP_OPEN = 2


def _read_once(path: Path, key: str, kept: pd.DataFrame) -> Patches:
    """:func:`read_patches`, once per file per process: several folds of a run, or a run's check
    before its folds, share one map and one checksum pass. A file replaced on disk is read afresh."""
    stat = path.stat()
    identity = (str(path.resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_size, key)
    if identity not in _OPENED:
        patches = read_patches(path, key, kept)
        while len(_OPENED) >= _KEEP_OPEN:
            _OPENED.pop(next(iter(_OPENED)))
        _OPENED[identity] = patches
    return _OPENED[identity]


@dataclass(frozen=True)
class CacheEntry:
    """A patch file as ``lidcbench cache info`` lists it (from its header only)."""

    path: Path
    bytes: int
    key: str
    manifest: dict[str, Any] | None  # None when the header cannot be read
    problem: str  # empty when the file has the current format


def cache_entries(cache_dir: Path | str | None = None) -> list[CacheEntry]:
    entries = []
    for path in sorted(patches_dir(cache_dir).glob(f"*{SUFFIX}")):
        try:
            manifest, problem = read_header(path)["manifest"], ""
        except CacheError as error:
            manifest, problem = None, str(error)
        entries.append(CacheEntry(path=path, bytes=path.stat().st_size, key=path.name[:-len(SUFFIX)],
                                  manifest=manifest, problem=problem))
    return entries


def leftover_files(cache_dir: Path | str | None = None) -> list[Path]:
    """Temporary files of writes that never finished (a crash or a kill)."""
    root = cache_root(cache_dir)
    return sorted(root.rglob(f".*{TEMPORARY_SUFFIX}")) if root.is_dir() else []


def clear_cache(cache_dir: Path | str | None = None, keys: Sequence[str] | None = None) -> tuple[int, int]:
    """Remove the patch files named by ``keys`` (default: the whole cache, DICOM
    indexes and leftovers included); returns (files removed, bytes freed)."""
    root = cache_root(cache_dir)
    if keys:
        paths = [patches_dir(cache_dir) / f"{key}{SUFFIX}" for key in keys]
        unknown = [p.name[:-len(SUFFIX)] for p in paths if not p.is_file()]
        if unknown:
            raise CacheError(f"no cached patches with key {', '.join(unknown)}; `lidcbench cache info` lists them.")
    else:
        paths = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
    freed = 0
    for path in paths:
        freed += path.stat().st_size
        path.unlink()
    return len(paths), freed


def _build(path: Path, manifest: dict[str, Any], source: Source, kept: pd.DataFrame, size: int,
           workers: int, console) -> Patches:
    source.prepare(kept, workers, console)  # e.g. the ct source reads its series' headers, in parallel
    rows = kept.to_dict("records")
    images = np.empty((sum(len(row["slices"]) for row in rows), size, size), dtype=STORED_DTYPE)
    started = time.perf_counter()

    def chunks() -> Iterator[Chunk]:
        for first, stored, chunk in render_all(source, rows, size, workers, console):
            images[first:first + len(stored)] = stored
            yield chunk

    write_atomically(path, file_pieces(manifest, chunks()))
    if console:
        console.print(f"built {len(images)} patches of {len(rows)} nodules in {time.perf_counter() - started:.0f} s "
                      f"-> {path} ({path.stat().st_size / 1e6:.0f} MB)")
    images.flags.writeable = False  # as a mapped file's are
    return _patches(images, manifest)


def _manifest(key: str, source: Source, cohort: Cohort, size: int, kept: pd.DataFrame,
              missing: pd.DataFrame) -> dict[str, Any]:
    return {
        "key": key,
        "source": source.name,
        "settings": {"size": size, **source.settings()},
        "protocol_hash": cohort.protocol.hash,
        "protocol": cohort.protocol.to_dict(),
        "size": size,
        "nodule_ids": kept["nodule_id"].tolist(),
        "slice_counts": kept["slices"].map(len).tolist(),
        "slice_indices": [int(k) for slices in kept["slices"] for k in slices],
        "missing": missing["nodule_id"].tolist(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "lidcbench_version": __version__,
    }


def _patches(images: np.ndarray, manifest: dict[str, Any]) -> Patches:
    return Patches(
        images=images,
        nodule_ids=np.repeat(np.array(manifest["nodule_ids"], dtype=str), manifest["slice_counts"]),
        slice_indices=np.array(manifest["slice_indices"], dtype=np.int64),
        source=manifest["source"],
        settings=manifest["settings"],
        key=manifest["key"],
        missing=tuple(manifest["missing"]),
    )


def _missing_message(source: Source, missing: pd.DataFrame, table: pd.DataFrame) -> str:
    patients = sorted(missing["patient_id"].unique())
    shown = ", ".join(patients[:12]) + (f" and {len(patients) - 12} more" if len(patients) > 12 else "")
    return (
        f"{missing['series_uid'].nunique()} scan(s) holding {len(missing)} of the cohort's {len(table)} nodules "
        f"are not in {source.describe()}: {shown}. Download them (both of pylidc's folder layouts work), or pass "
        f"--allow-missing to build the other {len(table) - len(missing)} nodules and record which were left out."
    )


def _console():
    from rich.console import Console

    return Console(stderr=True)
