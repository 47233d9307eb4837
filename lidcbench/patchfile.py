"""The on-disk form of one cache entry: patches stored as compressed float16 chunks.

Layout::

    MAGIC | chunk | chunk | ... | header (JSON) | header length (8 bytes, little endian) | END

Each chunk holds consecutive images as float16, byte-shuffled (all low bytes,
then all high bytes: the high bytes of smooth images compress well) and zlib
compressed where it was rendered, so compression runs on every core. The header
at the end lists every chunk with its offset, length and CRC-32 plus the
manifest (key, settings, nodule ids, ...), so a file cut short has no valid
end and is rejected. float16 keeps 11 significant bits: within 2.5e-4 of the
float32 patch on [0, 1], a third of a Hounsfield unit under the lung window.
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

from .errors import CacheError

FORMAT_VERSION = 1
MAGIC = b"LIDCBENCH-PATCHES\n"
END = b"\nLIDCBENCH-END\n"
STORED_DTYPE = np.float16
_LENGTH_BYTES = 8


@dataclass(frozen=True)
class Chunk:
    """Images ``first`` to ``first + rows - 1`` of a file, compressed."""

    first: int
    rows: int
    data: bytes


def compress(images: np.ndarray, first: int) -> Chunk:
    stored = np.ascontiguousarray(images, dtype=STORED_DTYPE)
    shuffled = stored.view(np.uint8).reshape(-1, stored.itemsize).T.tobytes()
    return Chunk(first=first, rows=len(stored), data=zlib.compress(shuffled, 1))


def file_pieces(manifest: dict[str, Any], chunks: Iterator[Chunk]) -> Iterator[bytes]:
    """The bytes of a patch file, chunk by chunk as they come; the header goes last."""
    yield MAGIC
    offset = len(MAGIC)
    table = []
    for chunk in chunks:
        table.append({"offset": offset, "length": len(chunk.data), "first": chunk.first, "rows": chunk.rows,
                      "crc32": zlib.crc32(chunk.data)})
        offset += len(chunk.data)
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
    """All ``count`` images as float32, every chunk checked against its CRC-32 and length."""
    chunks = sorted(header["chunks"], key=lambda c: c["first"])
    expected_first = 0
    for chunk in chunks:
        if chunk["first"] != expected_first:
            raise CacheError(f"{path}: its chunks do not cover {count} images in order; the file is damaged.")
        expected_first += chunk["rows"]
    if expected_first != count:
        raise CacheError(f"{path}: its chunks hold {expected_first} images, not {count}; the file is damaged.")
    images = np.empty((count, size, size), dtype=np.float32)
    itemsize = np.dtype(STORED_DTYPE).itemsize

    def unpack(chunk: dict[str, Any]) -> None:
        with open(path, "rb") as file:
            file.seek(chunk["offset"])
            data = file.read(chunk["length"])
        if len(data) != chunk["length"] or zlib.crc32(data) != chunk["crc32"]:
            raise CacheError(f"{path}: a chunk fails its checksum; the file is damaged.")
        try:
            raw = zlib.decompress(data)
        except zlib.error:
            raise CacheError(f"{path}: a chunk does not decompress; the file is damaged.") from None
        if len(raw) != chunk["rows"] * size * size * itemsize:
            raise CacheError(f"{path}: a chunk holds the wrong number of pixels.")
        planes = np.frombuffer(raw, dtype=np.uint8).reshape(itemsize, -1)
        stored = np.ascontiguousarray(planes.T).view(STORED_DTYPE).reshape(chunk["rows"], size, size)
        images[chunk["first"]:chunk["first"] + chunk["rows"]] = stored

    # zlib and numpy release the GIL, so threads decompress in parallel.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(unpack, chunks))
    return images
