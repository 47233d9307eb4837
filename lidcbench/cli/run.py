"""`lidcbench run METHOD --folds all`: train, predict, score and record each fold."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args


def _parameter(text: str) -> tuple[str, str]:
    """NAME=VALUE; the value stays text until the method's ``__init__`` types convert it."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--set takes NAME=VALUE, got {text!r}")
    return name, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", help="registered method name(s), comma-separated (see `lidcbench list`)")
    parser.add_argument("--folds", default="all", help="'all' or comma-separated fold numbers (default: all)")
    parser.add_argument("--seeds", "--seed", dest="seeds", default="0",
                        help="seeds, comma-separated or a range: 0,1,2 or 0-4 (default: 0)")
    parser.add_argument("--source", default="contours",
                        help="patch source: contours (built in) or ct; medmnist: a volume method on a "
                             "NoduleMNIST3D file's own split (--medmnist-npz)")
    parser.add_argument("--medmnist-npz", type=Path, metavar="FILE",
                        help="with --source medmnist: the NoduleMNIST3D .npz (nodulemnist3d.npz or _64.npz)")
    parser.add_argument("--dicom-root", type=Path, help="LIDC-IDRI DICOM folder for --source ct")
    parser.add_argument("--allow-missing", action="store_true",
                        help="with --source ct: score the nodules whose scans are present")
    parser.add_argument("--min-coverage", type=float, metavar="FRACTION",
                        help="refuse to score when fewer of the cohort's nodules have scans, e.g. 0.95 "
                             "(default: none; a partial run says its coverage on every line)")
    parser.add_argument("--profile", help="the method's named settings (default: chosen by the device)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--set", dest="params", type=_parameter, action="append", default=[], metavar="NAME=VALUE",
                        help="override one method parameter (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results)")
    parser.add_argument("--force", action="store_true", help="redo folds whose record exists")
    parser.add_argument("--checkpoint-minutes", type=float, default=10.0, metavar="M",
                        help="methods that train by epochs save a checkpoint once M minutes of training have "
                             "passed since the last one (default: 10)")
    parser.add_argument("--checkpoint-every", type=int, metavar="K",
                        help="also save one every K epochs (default: by time only)")
    parser.add_argument("--require-wall", action="store_true",
                        help="refuse to run unless the operating system's wall (Linux Landlock) keeps the labels "
                             "out of the method's reach; without it only the tripwire runs (docs/isolation.md)")
    add_protocol_arguments(parser)
    variants = parser.add_argument_group("evaluation variants (their own pages, never the leaderboard; "
                                         "one at a time; see docs/evaluation-choices.md)")
    variants.add_argument("--split", default="patient", choices=("patient", "scan", "nodule", "slice", "annotation"),
                          help="the unit the folds keep together (default: patient, the protocol's folds); scan: "
                               "grouped by CT scan; nodule: nodules at random; slice: "
                               "each nodule's slices at random over the folds, scored per slice and per nodule; "
                               "annotation: each reader's annotation a sample (its own rating the label, its own "
                               "contour the pixels), scored per annotation and per nodule")
    variants.add_argument("--labels", default="mean",
                          choices=("mean", "median", "readers-2", "readers-3", "any-reader-4", "nodulemnist3d"),
                          help="the label rule (default: mean, the protocol's); median: the readers' median; "
                               "readers-2, readers-3: nodules marked by at least 2 or 3 readers; any-reader-4: "
                               "malignant when any reader rates 4 or 5; nodulemnist3d: NoduleMNIST3D's rule")
    variants.add_argument("--selection", default="fixed", choices=("fixed", "best-epoch-on-test"),
                          help="model selection for methods that train by epochs: fixed (the method's schedule, "
                               "default) or best-epoch-on-test (the runner scores the test fold after every epoch "
                               "and keeps the best: leaky, to measure what papers that do it gain)")
    executor = parser.add_argument_group("where the jobs run")
    executor.add_argument("--executor", choices=("local", "slurm"), default="local",
                          help="local (this machine, default) or slurm (a job array through submitit)")
    executor.add_argument("--jobs", type=int, help="local: fold jobs at once, in worker processes (default: 1, "
                          "or one per GPU of --gpus)")
    executor.add_argument("--gpus", help="local: GPU numbers given to the workers round robin, e.g. 0,1,2,3")
    executor.add_argument("--no-wait", dest="wait", action="store_false",
                          help="slurm: submit and return; rerun the command later to collect")
    executor.add_argument("--slurm-partition")
    executor.add_argument("--slurm-gpus-per-job", type=int, default=0, metavar="N")
    executor.add_argument("--slurm-cpus-per-job", type=int, default=1, metavar="N")
    executor.add_argument("--slurm-mem-gb", type=float, metavar="GB")
    executor.add_argument("--slurm-time-min", type=int, default=60, metavar="MIN",
                          help="time limit per job; a job stopped by it is requeued and resumes (default: 60)")
    executor.add_argument("--slurm-array-parallelism", type=int, default=64, metavar="N")
    executor.add_argument("--slurm-setup", action="append", default=[], metavar="LINE",
                          help="shell line run before each job, e.g. 'source .venv/bin/activate' (repeatable)")
    executor.add_argument("--slurm-logs", type=Path, metavar="DIR",
                          help="submitit's logs, on a shared filesystem (default: slurm-logs/ in the --out folder)")


def run(args: argparse.Namespace) -> int:
    from lidcbench.protocol.variants import Variant
    from lidcbench.running.executors.grid import parse_methods, parse_seeds
    from lidcbench.running.executors.local import parse_gpus
    from lidcbench.running.executors.runner import RunOptions, run_grid
    from lidcbench.running.fold import FoldJob

    from .console import make_console

    methods, seeds, gpus = parse_methods(args.method), parse_seeds(args.seeds), parse_gpus(args.gpus)
    if args.source == "medmnist" or args.medmnist_npz:
        return _run_medmnist(args, methods, seeds)
    variant = Variant(split=args.split, labels=args.labels, selection=args.selection)
    protocol = variant.protocol(protocol_from_args(args))
    variant.check_protocol(protocol)
    source_options = {"dicom_root": args.dicom_root} if args.dicom_root else {}
    template = FoldJob(method=methods[0], fold=0, seed=seeds[0], profile=args.profile, params=dict(args.params),
                       source=args.source, source_options=source_options, allow_missing=args.allow_missing,
                       protocol=protocol.to_dict(), out_dir=str(args.out), device=args.device,
                       checkpoint_every=args.checkpoint_every,
                       checkpoint_minutes=args.checkpoint_minutes, min_coverage=args.min_coverage,
                       variant=variant.choices(),
                       require_wall=args.require_wall)
    if args.require_wall:
        from lidcbench.running.isolation import require_wall

        require_wall()  # a one-line error before any loading
    slurm = slurm_options(args)
    options = RunOptions(executor=args.executor, jobs=args.jobs, gpus=gpus, force=args.force, wait=args.wait,
                         slurm=slurm)
    result = run_grid(template, methods, variant.folds().fold_ids(args.folds), seeds, options, console=make_console(),
                      argv=args.argv)
    return 1 if result.failures else 0


def _run_medmnist(args: argparse.Namespace, methods: list[str], seeds: list[int]) -> int:
    """Each method and seed on the file's train/test split; one record each under OUT/medmnist/."""
    from lidcbench.errors import SourceError
    from lidcbench.running.fold import FoldJob, plan
    from lidcbench.running.medmnist import read_medmnist, run_medmnist

    if args.source != "medmnist" or args.medmnist_npz is None:
        raise SourceError("--source medmnist and --medmnist-npz FILE go together.")
    if not args.medmnist_npz.is_file():
        raise SourceError(f"{args.medmnist_npz} is not a file.")
    read_medmnist(args.medmnist_npz)  # its layout checked before any training
    for method in methods:
        for seed in seeds:
            job = FoldJob(method=method, fold=0, seed=seed, profile=args.profile, params=dict(args.params),
                          source="contours", out_dir=str(args.out), device=args.device)
            record, path = run_medmnist(plan(job), args.medmnist_npz, args.out)
            ours, theirs = record["metrics"]["lidcbench"], record["metrics"]["medmnist"]
            print(f"{method} seed {seed} on {args.medmnist_npz.name}: MedMNIST ACC "
                  f"{theirs['acc']:.3f}, AUC {theirs['auc']:.3f}; ours Acc {ours['accuracy']:.3f} Sen "
                  f"{ours['sensitivity']:.3f} Spe {ours['specificity']:.3f} AUC {ours['auc']:.3f} -> {path}\n"
                  f"  split: {record['split']['text']}")
    return 0


def slurm_options(args: argparse.Namespace):
    """The SLURM settings of ``args``; the logs go under the results folder unless --slurm-logs says where."""
    from lidcbench.running.executors.slurm import SlurmOptions

    return SlurmOptions(logs=args.slurm_logs or args.out / "slurm-logs", partition=args.slurm_partition,
                        gpus_per_job=args.slurm_gpus_per_job, cpus_per_job=args.slurm_cpus_per_job,
                        mem_gb=args.slurm_mem_gb, time_min=args.slurm_time_min,
                        array_parallelism=args.slurm_array_parallelism, setup=tuple(args.slurm_setup))
