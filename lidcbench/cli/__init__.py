"""The `lidcbench` command: one module per subcommand, heavy imports inside each handler."""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from lidcbench.errors import LidcbenchError

# Subcommand name -> module under lidcbench.cli with add_arguments(parser) and run(args).
SUBCOMMANDS = {
    "protocol": "Print the cohort card: nodules, labels, folds, reader variation.",
    "cache": "Build, list or clear the cached nodule patches (contours or your CT).",
    "score": "Score predictions made outside lidcbench (a CSV) fold by fold on the frozen folds.",
    "leaderboard": "Regenerate the Markdown leaderboards and ROC figures from the result records.",
    "list": "List the registered methods, built-in and plugins.",
    "run": "Train and score a method fold by fold; write one result record per fold.",
    "analyze": "The paper's analyses: recursive feature elimination (Table IV) and t-SNE (Fig. 5).",
    "reproduce": "Rerun each record's exact job with today's code; say whether its numbers agree.",
    "bench": "Measure a method's inference, training and data-path throughput; write a record.",
    "export": "Write the cohort's cubes in another benchmark's layout (medmnist: NoduleMNIST3D's .npz).",
    "check-split": "Check a split (CSV of ids and folds) for patient, nodule and near-duplicate-slice overlap.",
}


def build_parser() -> argparse.ArgumentParser:
    from lidcbench import __version__

    parser = argparse.ArgumentParser(prog="lidcbench", description="Lung-nodule benchmark harness for LIDC-IDRI.")
    parser.add_argument("--version", action="version", version=f"lidcbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        module = importlib.import_module(f".{name.replace('-', '_')}", __name__)
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.add_argument("--debug", action="store_true", help="on an error, print its full traceback too")
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = [*argv] if argv is not None else sys.argv[1:]  # for messages that repeat the command
    from lidcbench.running.warning_line import one_line_warnings

    try:
        with one_line_warnings():  # "lidcbench: warning: ...", not a path into lidcbench and its source line
            return int(args.handler(args) or 0)
    except LidcbenchError as error:
        if args.debug:
            traceback.print_exception(error)
        print(f"lidcbench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lidcbench {args.command}: interrupted", file=sys.stderr)
        return 130
