"""A rich console that stays readable in a log: piped output is not cut to 80 columns."""
from __future__ import annotations

import sys

PIPED_WIDTH = 200  # wide enough for every table lidcbench prints; a log has no right edge


def make_console(**options):
    """A terminal keeps its own width; piped or redirected output gets :data:`PIPED_WIDTH`
    columns and no colour codes, so tables are whole and lines are plain text."""
    from rich.console import Console

    if not sys.stdout.isatty():
        options = {"width": PIPED_WIDTH, "no_color": True, "highlight": False, **options}
    return Console(**options)
