"""Stage 2, patches: what a method sees of the pixels, whichever source made them.

:class:`Patches` (here; :class:`.volumes.Volumes` for volume methods), :mod:`.sources` (``contours`` built in, ``ct`` from the
user's DICOM; :mod:`.sources.cube` for volumes), :mod:`.rendering`, :mod:`.patchfile`
and :mod:`.cache` (patches built once per source and settings; :mod:`.volume_cache`
the same for cubes). Imports the protocol and the base modules.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from lidcbench.errors import PatchesError


@dataclass(frozen=True, eq=False)
class Patches:
    """One 2D patch per (nodule, slice), nodule centred.

    images: (N, S, S) in [0, 1] after the lung window; float16 and read-only
        when they come from the cache (the values it stores; convert with
        ``np.asarray(images, np.float32)`` where float32 arithmetic is needed).
    nodule_ids, slice_indices: the nodule and slice index k of each patch,
        grouped by nodule in cohort order, slices ascending.
    source: the source's name; settings: everything that shaped the pixels
        (JSON-ready); key: the cache key of the file they come from.
    missing: cohort nodules left out because the source could not find their
        scans (only with ``allow_missing``).
    """

    images: np.ndarray
    nodule_ids: np.ndarray
    slice_indices: np.ndarray
    source: str
    settings: dict[str, Any]
    key: str
    missing: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not (self.images.ndim == 3 and len(self.images) == len(self.nodule_ids) == len(self.slice_indices)):
            raise PatchesError(
                f"images {self.images.shape}, {len(self.nodule_ids)} nodule ids and "
                f"{len(self.slice_indices)} slice indices do not describe the same patches."
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def select(self, nodule_ids: Iterable[str]) -> Patches:
        """The patches of ``nodule_ids``, nodules in the order given."""
        wanted = list(nodule_ids)
        positions = pd.Series(np.arange(len(self))).groupby(self.nodule_ids, sort=False).indices
        unknown = [n for n in wanted if n not in positions]
        if unknown:
            raise PatchesError(
                f"{len(unknown)} nodule(s) have no patches here, e.g. {', '.join(unknown[:3])}; "
                f"these patches hold {len(positions)} nodules from source {self.source!r}"
                + (f" ({len(self.missing)} left out as missing scans)." if self.missing else ".")
            )
        index = np.concatenate([positions[n] for n in wanted]) if wanted else np.array([], dtype=np.int64)
        return replace(self, images=self.images[index], nodule_ids=self.nodule_ids[index],
                       slice_indices=self.slice_indices[index], missing=())

    def subset(self, keep: np.ndarray) -> Patches:
        """The patches where the boolean array ``keep`` is True, in their order (a slice-level split)."""
        keep = np.asarray(keep, dtype=bool)
        return replace(self, images=self.images[keep], nodule_ids=self.nodule_ids[keep],
                       slice_indices=self.slice_indices[keep], missing=())

    def nodule_slices(self) -> pd.DataFrame:
        """One row per patch: nodule_id, slice_index."""
        return pd.DataFrame({"nodule_id": self.nodule_ids, "slice_index": self.slice_indices})
