"""`lidcbench bench METHOD`: throughput of a method's network and of the data path."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", help="a registered method with a torch network (see `lidcbench list`)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument("--profile", help="the method's named settings (default: chosen by the device)")
    parser.add_argument("--batch-size", type=int, default=None, help="images per batch (default: 32 cpu, 256 gpu)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default: 5)")
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum seconds per repeat (default: 2)")
    parser.add_argument("--no-loader", action="store_true",
                        help="skip the data-path measurement (the method's loop then trains on random pixels)")
    parser.add_argument("--no-loop", action="store_true", help="skip timing the method's own training loop")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                        help="results folder: the bench record goes to DIR/bench/, where `lidcbench leaderboard "
                             "--results DIR` reads it (default: results)")


def run(args: argparse.Namespace) -> int:
    import os
    import platform
    import warnings

    import torch
    from rich.console import Console
    from rich.table import Table

    from lidcbench import __version__
    from lidcbench.bench import throughput as bench
    from lidcbench.bench.benchrecord import BENCH_SCHEMA, HEADERS, rows, write_bench_record
    from lidcbench.errors import LidcbenchError
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.results.records import _git_commit
    from lidcbench.running.fold import FoldJob, plan

    console = Console()
    resolved = plan(FoldJob(method=args.method, fold=0, profile=args.profile, device=args.device))
    method = resolved.method_class(**resolved.params)
    if not hasattr(method, "bench_workload"):
        raise LidcbenchError(f"method {args.method!r} has no torch network to benchmark (no bench_workload).")
    device = torch.device(resolved.device)
    if args.precision == "fp16" and device.type == "cpu":
        raise LidcbenchError("fp16 autocast is for GPUs; use --precision bf16 or fp32 on the CPU.")
    batch = args.batch_size or (256 if device.type == "cuda" else 32)
    settings = bench.Settings(device=str(device), batch_size=batch, precision=args.precision,
                              channels_last=args.channels_last, compile=args.compile, repeats=args.repeats,
                              seconds_per_repeat=args.seconds)
    cohort = load_cohort()
    volumes = resolved.patch_kind == "volume"
    dims = 3 if volumes else 2
    slices_per_nodule = 1.0 if volumes else cohort.table["n_slices"].sum() / len(cohort.table)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    console.print(f"[bold]{args.method}[/] profile [bold]{resolved.profile}[/] on [bold]{name}[/], batch {batch}, "
                  f"{args.precision}{', channels_last' if args.channels_last else ''}"
                  f"{', compile' if args.compile else ''}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # untrained networks: the missing-weights warning says nothing here
        workload = method.bench_workload(lambda model: bench.prepare(model, device, settings, dims))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    console.print("timing inference ...")
    inference = bench.inference(workload.model, workload.input_size, settings, slices_per_nodule, dims)
    console.print("timing training ...")
    training = bench.training(workload, settings)
    memory = bench.peak_memory(device)
    workload_unit = workload.unit
    del workload
    console.print(f"timing a bare {method.backbone} forward ...")
    bare_model = bench.prepare(_bare_backbone(method), device, settings, dims)
    bare = bench.inference(bare_model, method.crop, settings, slices_per_nodule, dims)
    del bare_model
    loader = patches = None
    if not args.no_loader:
        if volumes:
            from lidcbench.patches.volume_cache import load_volumes

            console.print(f"timing the data path at {method.patch_size}^3 voxels ...")
            patches = load_volumes(cohort, "contours", size=method.patch_size, voxel_mm=resolved.voxel_mm)
        else:
            from lidcbench.patches.cache import load_patches

            console.print(f"timing the data path at {method.patch_size} px ...")
            patches = load_patches(cohort, "contours", size=method.patch_size)
        loader = bench.data_path(patches.images, method.crop, settings)
    loop = loop_network = None
    if not args.no_loop:
        loop, loop_network = _time_method_loop(resolved, args, cohort, patches, settings, console)
    training_images = training.get("images_per_s")
    record = {
        "schema_version": BENCH_SCHEMA,
        "method": args.method, "profile": resolved.profile, "method_params": resolved.params,
        "device": {"type": device.type, "name": name, "slug_name": "cpu" if device.type == "cpu" else name},
        "settings": {"batch_size": batch, "precision": args.precision, "channels_last": args.channels_last,
                     "compile": args.compile, "repeats": args.repeats, "seconds_per_repeat": args.seconds,
                     "input_size": method.crop, "slices_per_nodule": slices_per_nodule},
        "inference": inference, "training": training, "training_unit": "pairs" if "pairs_per_s" in training
        else workload_unit, "bare_backbone": {"model": method.backbone, **bare}, "loader": loader, "memory": memory,
        "harness_over_bare": bench.ratio(inference, bare, "slices_per_s"),
        "loader_over_training": (loader["patches_per_s"]["median"] / training_images["median"]
                                 if loader and training_images else None),
        "method_loop": loop, "network_at_loop_batch": loop_network,
        "loop_over_network": bench.ratio(loop, loop_network, "images_per_s") if loop else None,
        "versions": {"lidcbench": __version__, "torch": torch.__version__, "cuda": torch.version.cuda,
                     "python": platform.python_version(), "threads": torch.get_num_threads(),
                     "commit": _git_commit()[0]},
    }
    path = write_bench_record(record, args.out)
    table = Table(title="Throughput (median over repeats, range in brackets)", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for header, value in zip(HEADERS, rows(record)):
        table.add_row(header, value)
    console.print(table)
    if loop:
        console.print(f"the method's own training loop reaches {_percent(record['loop_over_network'])} of the "
                      f"network's training rate at its batch of {loop['batch_size']}", highlight=False)
    console.print(f"wrote {path}")
    return 0


def _bare_backbone(method):
    """The method's backbone alone: its own ``_backbone`` where it has one (the volume networks),
    else the timm model it names."""
    if hasattr(method, "_backbone"):
        return method._backbone("none")[0]
    import timm

    return timm.create_model(method.backbone, pretrained=False, num_classes=0, in_chans=1)


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.0f}%"


def _time_method_loop(resolved, args, cohort, patches, settings, console):
    """The method's own loop (the code `fit` runs, the profile's batch) and, as its yardstick, the
    network's training step at that same batch, precision and memory format."""
    import dataclasses
    import warnings

    import torch

    from lidcbench.bench import throughput as bench

    params = {**resolved.params, "pretrained": "none"}
    if args.compile:
        params["compile"] = True
    method = resolved.method_class(**params)
    if not hasattr(method, "training_loop"):
        return None, None
    device = torch.device(settings.device)
    console.print(f"timing the method's own training loop ({'cached patches' if patches else 'random pixels'}) ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = bench.loop_data(cohort, patches, method.patch_size, volumes=resolved.patch_kind == "volume")
        loop = method.training_loop(train, device)
        # The loop trains as fit does: bf16 and channels_last on a GPU, fp32 on the CPU.
        same = dataclasses.replace(settings, batch_size=loop.batch_size, precision="bf16" if device.type == "cuda"
                                   else "fp32", channels_last=device.type == "cuda")
        dims = 3 if resolved.patch_kind == "volume" else 2
        workload = method.bench_workload(lambda model: bench.prepare(model, device, same, dims))
    timed = bench.method_loop(loop, same, workload.images_per_unit, workload.unit)
    del loop, train
    console.print(f"timing the network's training step at the loop's batch of {same.batch_size} ...")
    network = bench.training(workload, same)
    timed.update(precision=same.precision, channels_last=same.channels_last,
                 data="cached patches" if patches else "random pixels")
    return timed, network
