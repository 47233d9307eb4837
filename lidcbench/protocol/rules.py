"""The rules that turn radiologists' annotations into labelled nodules.

The default :class:`Protocol` is the MTMR-Net paper's: nodules 3-30 mm,
readers' malignancy averaged, below 3 benign, above 3 malignant, exactly 3
left out, every attribute scaled to [0, 1] by its own rating range.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from lidcbench.errors import ProtocolError

PROTOCOL_SCHEMA = 1

_CHOICES = {
    "diameter": ("mean", "max"),
    "aggregate": ("mean", "median"),
    "oversized_clusters": ("exclude", "keep"),
    "out_of_range_ratings": ("clip", "exclude"),
    "label": ("threshold", "any-reader-4", "whole-level"),
}
# Fields added after the first frozen files: left out of the hash and of to_dict at their default, so
# the default protocol's hash, its records and its caches keep their names.
_LATER_FIELDS = {"label": "threshold"}


@dataclass(frozen=True)
class Protocol:
    """A frozen, hashable set of cohort rules; :attr:`hash` names caches and results.

    diameter_min_mm, diameter_max_mm: the window (inclusive) on the nodule diameter.
    diameter: how the readers' diameters (pylidc's greatest axial diameter of
        each annotation) combine: ``mean`` (default) or ``max``.
    min_readers: nodules marked by fewer readers are left out.
    aggregate: how the readers' ratings combine: ``mean`` (default) or ``median``.
        The aggregated malignancy decides the label: < 3 benign, > 3 malignant,
        exactly 3 left out.
    max_annotations: LIDC-IDRI has four readers, so a cluster of more
        annotations merged neighbouring nodules (pylidc leaves some when it
        cannot split them); ``oversized_clusters`` says whether such clusters
        are left out (default) or kept.
    out_of_range_ratings: a rating outside its scale (one internal-structure 5
        exists) is clipped into the scale (default) or its nodule left out.
    label: ``threshold`` (default): the aggregated malignancy decides, as above;
        ``any-reader-4``: malignant when any reader rates 4 or 5, benign otherwise
        (no nodule left out); ``whole-level``: NoduleMNIST3D's rule on the aggregated
        level, 1-2 benign, 4-5 malignant, 3 and any level between two (2.5, 3.5) left out.
    """

    diameter_min_mm: float = 3.0
    diameter_max_mm: float = 30.0
    diameter: str = "mean"
    min_readers: int = 1
    aggregate: str = "mean"
    max_annotations: int = 4
    oversized_clusters: str = "exclude"
    out_of_range_ratings: str = "clip"
    label: str = "threshold"

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ProtocolError(f"protocol option {name}={value!r} is not one of {', '.join(allowed)}.")
        if not 0 <= self.diameter_min_mm < self.diameter_max_mm:
            raise ProtocolError(
                f"diameter window [{self.diameter_min_mm}, {self.diameter_max_mm}] mm is empty or negative."
            )
        if not 1 <= self.min_readers <= self.max_annotations:
            raise ProtocolError(f"min_readers={self.min_readers} must be between 1 and {self.max_annotations}.")

    @classmethod
    def from_options(cls, **options: Any) -> Protocol:
        """Build from keyword options, naming any unknown one."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ProtocolError(f"unknown protocol option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        try:
            return cls(**options)
        except TypeError as error:
            raise ProtocolError(str(error)) from None

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        for name, default in _LATER_FIELDS.items():
            if document[name] == default:
                del document[name]
        return document

    def with_changes(self, **changes: Any) -> Protocol:
        return replace(self, **changes)

    @property
    def hash(self) -> str:
        """A short digest of the rules (and the schema), stable across runs and machines."""
        canonical = json.dumps({"schema": PROTOCOL_SCHEMA, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:10]

    def describe(self) -> str:
        return (
            f"{self.diameter} reader diameter in [{self.diameter_min_mm:g}, {self.diameter_max_mm:g}] mm, "
            f">= {self.min_readers} reader(s), {self.aggregate} ratings, " + _LABEL_TEXT[self.label]
        )


_LABEL_TEXT = {"threshold": "malignancy 3 excluded", "any-reader-4": "malignant when any reader rates >= 4",
               "whole-level": "levels 1-2 benign, 4-5 malignant, 3 and half levels excluded"}


DEFAULT = Protocol()
