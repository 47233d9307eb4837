"""What a patch source is: for one cohort nodule, its stack of 2D patches."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lidcbench.errors import SourceError


class Source(ABC):
    """Where pixels come from.

    A source renders one cohort row at a time, so the cache can spread nodules
    over processes; it must therefore pickle. :meth:`settings` names everything
    that shapes its pixels (the cache key is built from it), including a
    ``version`` raised whenever the rendering code changes its output.
    """

    name: ClassVar[str]

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """JSON-ready settings that shape the pixels (patch size excluded)."""

    @abstractmethod
    def render_nodule(self, row: Mapping[str, Any], size: int) -> tuple[np.ndarray, np.ndarray]:
        """Patches of one cohort row: float32 (n, size, size) in [0, 1], nodule
        centred, one per slice of ``row["slices"]``, and those slice indices."""

    def volume_settings(self) -> dict[str, Any]:
        """JSON-ready settings that shape this source's volumes (size and voxel size excluded)."""
        raise SourceError(f"source {self.name!r} does not render volumes.")

    def render_volume(self, row: Mapping[str, Any], size: int, voxel_mm: float) -> np.ndarray:
        """The cube of one cohort row: float32 (size, size, size) in [0, 1], axes (z, row, column),
        ``voxel_mm`` mm a voxel, nodule centred (:mod:`.cube`)."""
        raise SourceError(f"source {self.name!r} does not render volumes.")

    def missing(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``table`` whose scans this source cannot find (none by default)."""
        return table.iloc[:0]

    def prepare(self, table: pd.DataFrame, workers: int = 1, console=None) -> None:
        """Work done once before the rows of ``table`` are rendered (the ct source indexes its
        series' headers); nothing by default. ``console``: where to show progress, or None."""

    def describe(self) -> str:
        """Where the pixels come from, in a few words for messages."""
        return self.name
