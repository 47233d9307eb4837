"""`lidcbench export medmnist`: the cohort's cubes in NoduleMNIST3D's .npz layout, on the frozen folds."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    medmnist = formats.add_parser("medmnist", help="NoduleMNIST3D's .npz (train/val/test images and labels) "
                                                   "with a sidecar JSON saying which folds went where")
    medmnist.add_argument("--size", type=int, choices=(28, 64), default=28, help="voxels a side (default 28)")
    medmnist.add_argument("--out", type=Path, required=True, metavar="FILE.npz", help="the file to write")
    medmnist.add_argument("--test-fold", type=int, default=0, metavar="K",
                          help="fold K is test, fold K+1 validation, the other three training (default 0)")
    add_protocol_arguments(medmnist)


def run(args: argparse.Namespace) -> int:
    from lidcbench.patches.medmnist_export import export_medmnist
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds

    cohort = load_cohort(protocol_from_args(args))
    npz, sidecar = export_medmnist(cohort, load_folds(), args.size, args.out, test_fold=args.test_fold)
    print(f"wrote {npz} and {sidecar}")
    return 0
