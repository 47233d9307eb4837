"""Where one fold's time goes: fixed costs, seconds per epoch, images/s, and the ratio to `lidcbench bench`.

    python benchmarks/gpu_fold.py --method mtmr --epochs 3 [--bench results/bench/X.json] [--profile paper]

Runs what `lidcbench run METHOD --folds 0` runs (the same cohort, split, patches
and the method's own training loop), but times each piece: loading the cohort,
opening the patch cache, selecting the fold, moving the training set to the
device, every epoch (device synchronised) and the prediction. With ``--bench``,
the images/s of the epochs after the first (which pays for cuDNN's autotuning
and any compilation) are divided by that record's training figures. Prints one
JSON document; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path


def _clock(timings: dict, name: str, sync=lambda: None):
    class Clock:
        def __enter__(self):
            sync()
            self.started = time.perf_counter()

        def __exit__(self, *exc):
            sync()
            timings[name] = round(time.perf_counter() - self.started, 3)

    return Clock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="mtmr")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", dest="params", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--bench", type=Path, help="a `lidcbench bench` record to compare with")
    args = parser.parse_args()

    import ast

    import torch

    from lidcbench.method import FoldData
    from lidcbench.patches.cache import load_patches
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds
    from lidcbench.protocol.rules import Protocol
    from lidcbench.running.fold import FoldJob, plan

    params = {name: ast.literal_eval(value) for name, _, value in (p.partition("=") for p in args.params)}
    resolved = plan(FoldJob(method=args.method, fold=args.fold, profile=args.profile, device=args.device,
                            params={**params, "epochs": args.epochs}))
    device = torch.device(resolved.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    timings: dict = {}
    with _clock(timings, "cohort_s"):
        cohort, folds = load_cohort(Protocol()), load_folds()
    with _clock(timings, "patches_open_s"):
        patches = load_patches(cohort, "contours", size=resolved.patch_size, progress=True)
    with _clock(timings, "split_and_select_s"):
        train_table, test_table = folds.split(cohort, args.fold)
        train = FoldData(train_table, patches.select(train_table["nodule_id"]), labelled=True)
        test = FoldData.unlabelled(test_table, patches.select(test_table["nodule_id"]))
    method = resolved.method_class(**resolved.params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _clock(timings, "build_loop_and_data_to_device_s", sync):
            loop = method.training_loop(train, device)
    epochs = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        loop.run_epoch()  # its one read of the loss parts synchronises the device
        sync()
        epochs.append(time.perf_counter() - started)
    method.model_ = loop.model.eval()
    with _clock(timings, "predict_s", sync):
        method.predict(test)
    steps = loop.data.steps_per_epoch(loop.batch_size)
    images = steps * loop.batch_size
    steady = epochs[1:] or epochs
    per_epoch = statistics.median(steady)
    report = {
        "method": args.method, "profile": resolved.profile, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "params": {k: v for k, v in resolved.params.items() if k != "device"},
        "fixed": timings, "epoch_s": [round(e, 3) for e in epochs], "steps_per_epoch": steps,
        "batch_size": loop.batch_size, "training_images": len(loop.data),
        "s_per_epoch_after_first": round(per_epoch, 3), "images_per_s": round(images / per_epoch, 1),
        "history": loop.history,
    }
    if args.bench:
        record = json.loads(args.bench.read_text())
        network = record["training"]["images_per_s"]["median"]
        report["bench"] = {"record": str(args.bench), "network_images_per_s": network,
                           "network_batch": record["training"].get("batch_size"),
                           "run_over_bench": round(images / per_epoch / network, 3)}
        if record.get("network_at_loop_batch"):
            same = record["network_at_loop_batch"]["images_per_s"]["median"]
            report["bench"].update(network_at_loop_batch_images_per_s=same,
                                   run_over_network_at_loop_batch=round(images / per_epoch / same, 3))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
