"""Matplotlib figures written as byte-identical PNGs: the same data always gives the same file.

No pyplot (no global backend or figure state): a bare :class:`Figure` saves
through Agg, and the PNG metadata that would carry matplotlib's version is
left out.
"""
from __future__ import annotations

from pathlib import Path


def new_figure(width: float, height: float):
    """A matplotlib Figure of ``width`` x ``height`` inches at 100 dpi."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def save_png(figure, path: str | Path) -> None:
    """Lay out and write ``figure``; no timestamp or version in the file."""
    figure.tight_layout()
    figure.savefig(path, format="png", metadata={"Software": None})
