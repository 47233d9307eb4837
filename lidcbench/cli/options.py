"""Command-line options shared by subcommands."""
from __future__ import annotations

import argparse

from lidcbench.protocol.rules import Protocol


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    default = Protocol()
    group = parser.add_argument_group("protocol (defaults: the MTMR-Net paper's)")
    group.add_argument("--diameter", choices=("mean", "max"), default=default.diameter,
                       help="combine readers' diameters by mean or max (default %(default)s)")
    group.add_argument("--diameter-min", type=float, default=default.diameter_min_mm, metavar="MM")
    group.add_argument("--diameter-max", type=float, default=default.diameter_max_mm, metavar="MM")
    group.add_argument("--min-readers", type=int, default=default.min_readers, metavar="N")
    group.add_argument("--aggregate", choices=("mean", "median"), default=default.aggregate,
                       help="combine readers' ratings (default %(default)s)")
    group.add_argument("--oversized-clusters", choices=("exclude", "keep"), default=default.oversized_clusters)
    group.add_argument("--out-of-range-ratings", choices=("clip", "exclude"), default=default.out_of_range_ratings)


def protocol_from_args(args: argparse.Namespace) -> Protocol:
    return Protocol.from_options(
        diameter=args.diameter,
        diameter_min_mm=args.diameter_min,
        diameter_max_mm=args.diameter_max,
        min_readers=args.min_readers,
        aggregate=args.aggregate,
        oversized_clusters=args.oversized_clusters,
        out_of_range_ratings=args.out_of_range_ratings,
    )
