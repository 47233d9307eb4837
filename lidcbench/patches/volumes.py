"""What a volume method sees: one cube per nodule, nodule centred, at isotropic spacing."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lidcbench.errors import PatchesError


@dataclass(frozen=True, eq=False)
class Volumes:
    """One cube per nodule, the nodule's centre at the cube's centre.

    images: (N, S, S, S) in [0, 1] after the lung window, axes (z, row, column), z ascending;
        each voxel ``settings["voxel_mm"]`` mm on a side. float16 and read-only when they come
        from the cache (convert with ``np.asarray(images, np.float32)`` for float32 arithmetic).
    nodule_ids: the nodule of each cube, in cohort order.
    source, settings, key, missing: as in :class:`lidcbench.patches.Patches`.
    """

    kind: ClassVar[str] = "volume"

    images: np.ndarray
    nodule_ids: np.ndarray
    source: str
    settings: dict[str, Any]
    key: str
    missing: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        shape = self.images.shape
        if not (self.images.ndim == 4 and shape[1] == shape[2] == shape[3] and len(self.images) == len(self.nodule_ids)):
            raise PatchesError(f"volumes {shape} and {len(self.nodule_ids)} nodule ids do not describe one cube "
                               "per nodule.")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def select(self, nodule_ids: Iterable[str]) -> Volumes:
        """The cubes of ``nodule_ids``, in the order given."""
        wanted = list(nodule_ids)
        positions = {nodule: index for index, nodule in enumerate(self.nodule_ids.tolist())}
        unknown = [n for n in wanted if n not in positions]
        if unknown:
            raise PatchesError(
                f"{len(unknown)} nodule(s) have no volume here, e.g. {', '.join(unknown[:3])}; "
                f"these volumes hold {len(positions)} nodules from source {self.source!r}"
                + (f" ({len(self.missing)} left out as missing scans)." if self.missing else ".")
            )
        index = np.array([positions[n] for n in wanted], dtype=np.int64)
        return replace(self, images=self.images[index], nodule_ids=self.nodule_ids[index], missing=())

    def nodule_slices(self) -> pd.DataFrame:
        """One row per cube: nodule_id (a cube stands for its whole nodule, so no slice index)."""
        return pd.DataFrame({"nodule_id": self.nodule_ids})
