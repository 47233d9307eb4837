"""Results kept on disk and reused while their inputs stay the same.

:func:`memoized` names a stored result by a digest of everything it was
computed from (the caller passes those parts: data, settings, and a
:func:`source_digest` of the code, so editing the code names a new entry),
writes it atomically under ``<lidcbench cache>/memo`` and returns the stored
value on the next call. A damaged entry is computed again. The stored value
is the pickled result itself, so what is built from it is byte for byte what
a fresh computation gives.
"""
from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from lidcbench.cachedir import cache_root, write_atomically

MEMO_FOLDER = "memo"
MEMO_FORMAT = 1

T = TypeVar("T")


def memo_dir(cache_dir: Path | str | None = None) -> Path:
    return cache_root(cache_dir) / MEMO_FOLDER


def digest(*parts: Any) -> str:
    """A stable digest of ``parts``: strings, numbers, None, bytes, lists/tuples/dicts of them,
    numpy arrays and pandas frames (values, index, column names and dtypes)."""
    hasher = hashlib.sha256(f"memo{MEMO_FORMAT}".encode())
    for part in parts:
        _update(hasher, part)
    return hasher.hexdigest()[:20]


def _update(hasher, part: Any) -> None:
    import numpy as np
    import pandas as pd

    if isinstance(part, pd.DataFrame):
        hasher.update(json.dumps([list(map(str, part.columns)), list(map(str, part.dtypes))]).encode())
        hasher.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
    elif isinstance(part, np.ndarray):
        hasher.update(f"{part.dtype}{part.shape}".encode())
        hasher.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, bytes):
        hasher.update(b"b%d:" % len(part) + part)
    elif isinstance(part, (list, tuple)):
        hasher.update(b"[%d" % len(part))
        for item in part:
            _update(hasher, item)
    elif isinstance(part, dict):
        hasher.update(b"{%d" % len(part))
        for key in sorted(part, key=str):
            _update(hasher, str(key))
            _update(hasher, part[key])
    elif part is None or isinstance(part, (str, int, float, bool)):
        hasher.update(json.dumps(part).encode() + b";")
    else:
        raise TypeError(f"cannot digest a {type(part).__name__}")  # a caller's mistake


def source_digest(files: Iterable[Path | str], packages: Iterable[str] = ()) -> str:
    """A digest of source files and of installed packages' versions: the code a result comes from."""
    parts: list[Any] = [Path(f).read_bytes() for f in files]
    for name in packages:
        try:
            parts.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} missing")
    return digest(*parts)


def memoized(kind: str, key: str, compute: Callable[[], T], cache_dir: Path | str | None = None) -> T:
    """The result stored as ``<kind>-<key>.pkl``, else ``compute()`` stored there and returned.

    ``key`` must cover every input of ``compute`` (use :func:`digest`); an
    unwritable cache folder only costs the stored copy.
    """
    path = memo_dir(cache_dir) / f"{kind}-{key}.pkl"
    try:
        with open(path, "rb") as file:
            stored = pickle.load(file)
        if stored["kind"] == kind and stored["key"] == key:
            return stored["value"]
    except FileNotFoundError:
        pass
    except Exception:  # a truncated or foreign file is a miss: computed again and replaced
        pass
    value = compute()
    try:
        write_atomically(path, pickle.dumps({"kind": kind, "key": key, "value": value},
                                            protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass
    return value
