"""`lidcbench analyze rfe|tsne`: the paper's recursive feature elimination (Table IV) and t-SNE (Fig. 5)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args

ACTIONS = {
    "rfe": "recursive feature elimination with a logistic regression, importance per attribute over the folds",
    "tsne": "t-SNE of the below-average attributes and of all eight, coloured by label",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("The protocol options choose the readers' cohort; a method's records carry their own protocol. "
                     "Pages and figures: rfe-<inputs>.md/.png and tsne-<inputs>.md/.png in --out.")
    parser.add_argument("action", choices=tuple(ACTIONS),
                        help="; ".join(f"{name}: {text}" for name, text in ACTIONS.items()))
    parser.add_argument("--method", metavar="NAME",
                        help="analyse this method's predicted attributes from its result records "
                             "(default: the readers' ratings)")
    parser.add_argument("--setting", help="with --method: the records' setting, when the method has several")
    parser.add_argument("--results", type=Path, default=Path("results"), metavar="DIR",
                        help="folder of result records, for --method (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("leaderboards") / "analyses", metavar="DIR",
                        help="folder for the Markdown page and PNG (default: %(default)s)")
    add_protocol_arguments(parser)  # readers only: a method's records carry their own protocol


def run(args: argparse.Namespace) -> int:
    from lidcbench.errors import AnalysisError
    from lidcbench.protocol.rules import DEFAULT
    from lidcbench.reports.analysis.inputs import method_inputs, readers_inputs
    from lidcbench.reports.analysis.rfe import recursive_feature_elimination
    from lidcbench.reports.analysis.tsne import embeddings
    from lidcbench.reports.analysis.view import print_rfe, print_tsne
    from lidcbench.reports.analysis.write import write_rfe, write_tsne
    from lidcbench.results.records import read_records

    from .console import make_console

    protocol = protocol_from_args(args)
    if args.method is None:
        if args.setting is not None:
            raise AnalysisError("--setting picks a method's records; give --method NAME too.")
        inputs = readers_inputs(protocol)
    else:
        if protocol != DEFAULT:
            raise AnalysisError("protocol options choose the readers' cohort; a method's records carry their own "
                                "protocol: drop them, or pick the records with --setting.")
        inputs = method_inputs(read_records(args.results), args.method, args.setting)
    console = make_console()
    rfe = recursive_feature_elimination(inputs)
    print_rfe(rfe, console)
    if args.action == "rfe":
        written = write_rfe(rfe, args.out)
    else:
        pair = embeddings(inputs, rfe)
        print_tsne(pair, console)
        written = write_tsne(rfe, pair, args.out)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
    return 0
