"""Patch sources: ``contours`` (built in, the default) and ``ct`` (the user's DICOM)."""
from __future__ import annotations

import difflib
import importlib
from typing import Any

from lidcbench.errors import SourceError

from .base import Source

DEFAULT_SOURCE = "contours"
# Name -> "module:class", imported only when asked for (the ct source pulls in pydicom).
SOURCES = {
    "contours": "lidcbench.patches.sources.contours:ContoursSource",
    "ct": "lidcbench.patches.sources.ct:CtSource",
}


def make_source(name: str = DEFAULT_SOURCE, **options: Any) -> Source:
    """The source called ``name``, built with keyword ``options`` (e.g. ``dicom_root`` for ``ct``)."""
    if name not in SOURCES:
        close = difflib.get_close_matches(name, SOURCES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SourceError(f"unknown patch source {name!r}; known: {', '.join(SOURCES)}.{hint}")
    module_name, class_name = SOURCES[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**options)
    except TypeError as error:
        raise SourceError(f"source {name!r} does not take these options ({error}).") from None


__all__ = ["DEFAULT_SOURCE", "SOURCES", "Source", "make_source"]
