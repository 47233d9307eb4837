"""`lidcbench protocol`: the cohort card."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_protocol_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the card as JSON")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the card as Markdown")
    parser.add_argument("--no-derivation", action="store_true", help="skip the count-derivation table (faster)")
    parser.add_argument("--export", type=Path, metavar="CSV",
                        help="write the cohort table (nodule ids, patient, series, centroid, fold, label, slices; "
                             "see lidcbench.protocol.export) to CSV instead of printing the card")


def run(args: argparse.Namespace) -> int:
    from lidcbench.protocol.card import cohort_card
    from lidcbench.protocol.cardview import print_rich, to_markdown
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds

    from .console import make_console

    protocol = protocol_from_args(args)
    if args.export:
        from lidcbench.protocol.export import cohort_export

        table = cohort_export(load_cohort(protocol), load_folds())
        table.to_csv(args.export, index=False)
        print(f"wrote {args.export}: the {len(table)} nodules of protocol {protocol.hash}")
        return 0
    card = cohort_card(load_cohort(protocol), load_folds(), with_derivation=not args.no_derivation)
    if args.markdown:
        args.markdown.write_text(to_markdown(card))
    if args.json:
        print(json.dumps(card, indent=2, default=float))
    else:
        print_rich(card, make_console())
        if args.markdown:
            print(f"wrote {args.markdown}")
    return 0
