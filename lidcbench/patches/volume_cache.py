"""Volumes built once per (source, protocol, cube size, voxel size, source settings), kept on disk.

The same file format (:mod:`.patchfile`) and build path as 2D patches (:mod:`.cache`):
a cube of S voxels a side is stored as S consecutive S x S images, its z planes in
order, so the file maps to (N, S, S, S) float16 with every chunk checksummed. The
manifest says ``"kind": "volume"``. Memory: 1917 cubes take 0.13 GB at 32^3 and 1.0 GB
at 64^3 (float16); building holds them in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lidcbench import __version__
from lidcbench.cachedir import build_lock, write_atomically
from lidcbench.errors import CacheError, MissingScansError, PatchesError
from lidcbench.protocol.cohort import Cohort

from .cache import MIN_SIZE, SUFFIX, _console, _missing_message, patches_dir
from .patchfile import FORMAT_VERSION, STORED_DTYPE, Chunk, file_pieces, read_header, read_images
from .rendering import available_cores, render_all
from .sources import Source, make_source
from .sources.cube import DEFAULT_VOXEL_MM
from .volumes import Volumes

KIND = "volume"


def volume_key(source: Source, protocol_hash: str, size: int, voxel_mm: float, nodule_ids: Sequence[str]) -> str:
    """``<source>-<protocol hash>-vol<size>-<voxel>mm-<digest>``; the digest covers the file format,
    the source's volume settings and the nodules built."""
    identity = {"format": FORMAT_VERSION, "kind": KIND, "source": source.name, "settings": source.volume_settings(),
                "protocol": protocol_hash, "size": size, "voxel_mm": voxel_mm,
                "nodules": hashlib.sha256("\n".join(nodule_ids).encode()).hexdigest()}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"{source.name}-{protocol_hash}-vol{size}-{voxel_mm:g}mm-{digest}"


def volume_settings(source: Source, size: int, voxel_mm: float) -> dict[str, Any]:
    """Everything that shaped the voxels, JSON-ready (what a record's source settings say)."""
    return {"kind": KIND, "size": size, "voxel_mm": voxel_mm, **source.volume_settings()}


def load_volumes(cohort: Cohort, source: Source | str = "contours", size: int = 32,
                 voxel_mm: float = DEFAULT_VOXEL_MM, progress: bool = True, cache_dir: Path | str | None = None,
                 allow_missing: bool = False, workers: int | None = None) -> Volumes:
    """The cohort's cubes from ``source``, ``size`` voxels a side of ``voxel_mm`` mm, built on first use
    and cached. Missing scans as in :func:`lidcbench.patches.cache.load_patches`."""
    source = make_source(source) if isinstance(source, str) else source
    if not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise PatchesError(f"volume size must be a whole number of voxels >= {MIN_SIZE}, not {size!r}.")
    if not isinstance(voxel_mm, (int, float)) or not 0.1 <= voxel_mm <= 5:
        raise PatchesError(f"voxel size must be a number of mm in [0.1, 5], not {voxel_mm!r}.")
    size, voxel_mm = int(size), float(voxel_mm)
    source.volume_settings()  # a source without volumes says so before any work
    table = cohort.table
    missing = source.missing(table)
    if len(missing) and not allow_missing:
        raise MissingScansError(_missing_message(source, missing, table))
    kept = table[~table["nodule_id"].isin(missing["nodule_id"])]
    key = volume_key(source, cohort.protocol.hash, size, voxel_mm, kept["nodule_id"].tolist())
    path = patches_dir(cache_dir) / f"{key}{SUFFIX}"
    console = _console() if progress else None
    started = time.time()
    if path.exists():
        try:
            return read_volumes(path, key, kept)
        except CacheError as error:
            if console:
                console.print(f"[yellow]{error} Rebuilding it.[/]")
    with build_lock(path, on_wait=lambda: console and console.print(f"waiting for another process building {path}")):
        if path.exists() and os.path.getmtime(path) > started:
            return read_volumes(path, key, kept)
        manifest = {
            "key": key, "kind": KIND, "source": source.name, "settings": volume_settings(source, size, voxel_mm),
            "protocol_hash": cohort.protocol.hash, "protocol": cohort.protocol.to_dict(), "size": size,
            "voxel_mm": voxel_mm, "nodule_ids": kept["nodule_id"].tolist(), "missing": missing["nodule_id"].tolist(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "lidcbench_version": __version__,
        }
        return _build(path, manifest, source, kept, size, voxel_mm, workers or available_cores(), console)


def read_volumes(path: Path, key: str, kept: pd.DataFrame) -> Volumes:
    """The volumes in ``path``, checked against the key and the nodules expected."""
    header = read_header(path)
    manifest = header["manifest"]
    if manifest.get("key") != key or manifest.get("kind") != KIND:
        raise CacheError(f"{path} holds key {manifest.get('key')}, not the volumes of {key}.")
    if manifest["nodule_ids"] != kept["nodule_id"].tolist():
        raise CacheError(f"{path} holds other nodules than the cohort's.")
    size, count = manifest["size"], len(manifest["nodule_ids"])
    images = read_images(path, header, count * size, size)
    return _volumes(images.reshape(count, size, size, size), manifest)


def _build(path: Path, manifest: dict[str, Any], source: Source, kept: pd.DataFrame, size: int, voxel_mm: float,
           workers: int, console) -> Volumes:
    source.prepare(kept, workers, console)
    rows = kept.to_dict("records")
    images = np.empty((len(rows) * size, size, size), dtype=STORED_DTYPE)
    started = time.perf_counter()

    def chunks() -> Iterator[Chunk]:
        for first, stored, chunk in render_all(source, rows, size, workers, console, voxel_mm=voxel_mm):
            images[first:first + len(stored)] = stored
            yield chunk

    write_atomically(path, file_pieces(manifest, chunks()))
    if console:
        console.print(f"built {len(rows)} volumes of {size}^3 at {voxel_mm:g} mm in "
                      f"{time.perf_counter() - started:.0f} s -> {path} ({path.stat().st_size / 1e6:.0f} MB)")
    images.flags.writeable = False
    return _volumes(images.reshape(len(rows), size, size, size), manifest)


def _volumes(images: np.ndarray, manifest: dict[str, Any]) -> Volumes:
    return Volumes(images=images, nodule_ids=np.array(manifest["nodule_ids"], dtype=str), source=manifest["source"],
                   settings=manifest["settings"], key=manifest["key"], missing=tuple(manifest["missing"]))
