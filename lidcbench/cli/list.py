"""`lidcbench list`: every registered method, its origin and what it does."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from lidcbench.plugins.registry import default_registry

    from .console import make_console

    registry = default_registry()
    table = Table(title="Registered methods", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("origin", no_wrap=True)
    table.add_column("description")
    for name in registry.names():
        table.add_row(name, registry.entry(name).origin, registry.describe(name))
    make_console().print(table)
    return 0
