"""The on-disk form of one cache entry: patches stored as raw float16, opened as a memory map.

Layout::

    MAGIC | chunk | chunk | ... | header (JSON) | header length (8 bytes, little endian) | END

The chunks hold consecutive images as little-endian float16, in image order and
back to back, so the images are one array at a fixed offset: opening a file maps
it into memory instead of reading and decompressing it (the file is larger than
a compressed one, 2 bytes a pixel, but opens about as fast as its checksums run;
see ``benchmarks/test_contours_cache.py``). The header at the end lists every
chunk with its offset, length and CRC-32 (computed where the chunk was rendered)
plus the manifest (key, settings, nodule ids, ...), so a file cut short has no
valid end and is rejected; every chunk's CRC-32 is checked when the file is
opened. float16 keeps 11 significant bits: within 2.5e-4 of the float32 patch on
[0, 1], a third of a Hounsfield unit under the lung window.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lidcbench.errors import CacheError

FORMAT_VERSION = 2
MAGIC = b"LIDCBENCH-PATCHES\n"
END = b"\nLIDCBENCH-END\n"
STORED_DTYPE = np.dtype("<f2")
_LENGTH_BYTES = 8


@dataclass(frozen=True)
class Chunk:
    """Images ``first`` to ``first + rows - 1`` of a file, as stored, with their CRC-32."""

    first: int
    data: np.ndarray  # (rows, S, S) float16, C-contiguous
    crc32: int

    @classmethod
    def of(cls, images: np.ndarray, first: int) -> Chunk:
        stored = np.ascontiguousarray(images, dtype=STORED_DTYPE)
        return cls(first=first, data=stored, crc32=zlib.crc32(stored))

    @property
    def rows(self) -> int:
        return len(self.data)


def in_order(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """``chunks`` (in any order, covering consecutive images) in image order, each as soon as it can go."""
    waiting: dict[int, Chunk] = {}
    following = 0
    for chunk in chunks:
        waiting[chunk.first] = chunk
        while following in waiting:
            ready = waiting.pop(following)
            following += ready.rows
            yield ready
    if waiting:
        raise CacheError(f"chunks from image {min(waiting)} on do not follow image {following - 1}.")


def file_pieces(manifest: dict[str, Any], chunks: Iterator[Chunk]) -> Iterator[bytes | np.ndarray]:
    """The bytes of a patch file, chunk by chunk in image order; the header goes last."""
    yield MAGIC
    offset = len(MAGIC)
    table = []
    for chunk in in_order(chunks):
        table.append({"offset": offset, "length": chunk.data.nbytes, "first": chunk.first, "rows": chunk.rows,
                      "crc32": chunk.crc32})
        offset += chunk.data.nbytes
        yield chunk.data
    header = json.dumps({"format": FORMAT_VERSION, "manifest": manifest, "chunks": table}).encode()
    yield header
    yield len(header).to_bytes(_LENGTH_BYTES, "little")
    yield END


def read_header(path: Path) -> dict[str, Any]:
    """The header (format, manifest, chunk table) of a patch file; CacheError if it has none."""
    try:
        with open(path, "rb") as file:
            if file.read(len(MAGIC)) != MAGIC:
                raise CacheError(f"{path} is not a lidcbench patch file.")
            file.seek(0, 2)
            end = file.tell()
            tail = len(END) + _LENGTH_BYTES
            if end < len(MAGIC) + tail:
                raise CacheError(f"{path} is cut short.")
            file.seek(end - tail)
            trailer = file.read(tail)
            if trailer[_LENGTH_BYTES:] != END:
                raise CacheError(f"{path} is cut short (no end marker).")
            length = int.from_bytes(trailer[:_LENGTH_BYTES], "little")
            if length > end - len(MAGIC) - tail:
                raise CacheError(f"{path} has a damaged header.")
            file.seek(end - tail - length)
            header = json.loads(file.read(length))
    except OSError as error:
        raise CacheError(f"cannot read {path} ({error}).") from None
    except ValueError:
        raise CacheError(f"{path} has a damaged header.") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        found = header.get("format") if isinstance(header, dict) else None
        raise CacheError(f"{path} has patch file format {found}, this lidcbench reads {FORMAT_VERSION}.")
    return header


def read_images(path: Path, header: dict[str, Any], count: int, size: int, threads: int = 4) -> np.ndarray:
    """All ``count`` images, float16, read-only, mapped from the file; every chunk checked against its
    place, length and CRC-32 first."""
    chunks = sorted(header["chunks"], key=lambda c: c["first"])
    row_bytes = size * size * STORED_DTYPE.itemsize
    expected_first, expected_offset = 0, len(MAGIC)
    for chunk in chunks:
        if (chunk["first"], chunk["offset"], chunk["length"]) != (expected_first, expected_offset,
                                                                  chunk["rows"] * row_bytes):
            raise CacheError(f"{path}: its chunks do not hold {count} images in order; the file is damaged.")
        expected_first += chunk["rows"]
        expected_offset += chunk["length"]
    if expected_first != count:
        raise CacheError(f"{path}: its chunks hold {expected_first} images, not {count}; the file is damaged.")
    if path.stat().st_size < expected_offset:
        raise CacheError(f"{path} is cut short.")
    if count == 0:
        return np.empty((0, size, size), dtype=STORED_DTYPE)
    try:
        images = np.memmap(path, dtype=STORED_DTYPE, mode="r", offset=len(MAGIC), shape=(count, size, size))
    except (OSError, ValueError) as error:
        raise CacheError(f"cannot map {path} ({error}).") from None

    def intact(chunk: dict[str, Any]) -> bool:
        return zlib.crc32(images[chunk["first"]:chunk["first"] + chunk["rows"]]) == chunk["crc32"]

    # zlib releases the GIL over large buffers, so threads check chunks in parallel.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        if not all(pool.map(intact, chunks)):
            raise CacheError(f"{path}: a chunk fails its checksum; the file is damaged.")
    return images.view(np.ndarray)
