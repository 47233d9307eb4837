"""Throughput of a method's network and of the data path, on whatever device is present.

Honest timing: warm-up iterations first, ``torch.inference_mode()`` for
inference, device synchronisation around the clock, several timed repeats
whose spread is reported, precision and memory format in every figure. An
out-of-memory halves the batch and is recorded, never a crash. Figures are
printed and recorded; no test asserts a speed.
"""
from __future__ import annotations

import contextlib
import itertools
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lidcbench.errors import LidcbenchError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Workload:
    """What a method hands the benchmark: its network, untrained, and one training step.

    ``train_step(images)`` runs forward and backward on a batch of images and
    returns the loss; ``images_per_unit`` is 2 for Siamese pairs, else 1.
    """

    model: nn.Module
    input_size: int
    train_step: Callable[[torch.Tensor], torch.Tensor]
    optimiser: torch.optim.Optimizer
    unit: str = "slices"
    images_per_unit: int = 1
    dims: int = 2  # 3: the network takes cubes (B, 1, S, S, S)


@dataclass(frozen=True)
class Settings:
    device: str
    batch_size: int
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    warmup: int = 3
    repeats: int = 5
    seconds_per_repeat: float = 2.0  # each repeat runs whole iterations until at least this long


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, precision: str):
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _images(batch: int, size: int, device: torch.device, channels_last: bool, dims: int = 2) -> torch.Tensor:
    images = torch.rand(batch, 1, *(size,) * dims, device=device)
    if not channels_last:
        return images
    return images.contiguous(memory_format=torch.channels_last_3d if dims == 3 else torch.channels_last)


def _timed(step: Callable[[], Any], device: torch.device, settings: Settings) -> list[float]:
    """Seconds per iteration, one figure per repeat (after warm-up)."""
    for _ in range(settings.warmup):
        step()
    synchronise(device)
    per_iteration = []
    for _ in range(settings.repeats):
        iterations, started = 0, time.perf_counter()
        while True:
            step()
            iterations += 1
            synchronise(device)
            elapsed = time.perf_counter() - started
            if elapsed >= settings.seconds_per_repeat:
                break
        per_iteration.append(elapsed / iterations)
    return per_iteration


def _rates(per_iteration: list[float], items: int) -> dict[str, float]:
    rates = [items / seconds for seconds in per_iteration]
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "repeats": len(rates)}


def _with_oom_halving(measure: Callable[[int], dict[str, Any]], batch: int, device: torch.device) -> dict[str, Any]:
    """Run ``measure(batch)``; on out-of-memory halve the batch and record it."""
    halvings = []
    while batch >= 1:
        try:
            return {**measure(batch), "batch_size": batch, "oom_halvings": halvings}
        except torch.OutOfMemoryError:
            halvings.append(batch)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            batch //= 2
    return {"error": f"out of memory even at batch 1 (tried {halvings})", "oom_halvings": halvings}


def prepare(model: nn.Module, device: torch.device, settings: Settings, dims: int = 2) -> nn.Module:
    model = model.to(device)
    if settings.channels_last:
        # One memory format for batches and weights alike: a 2.5D network (5D cubes into 2D convolutions) has none.
        ranks = sorted({p.dim() for p in model.parameters() if p.dim() in (4, 5)} - {dims + 2})
        if ranks:
            raise LidcbenchError(f"--channels-last: this network's batches are {dims + 2}D but it has "
                                 f"{'/'.join(map(str, ranks))}D convolution weights, so no one memory format fits "
                                 "both; leave --channels-last off.")
        model = model.to(memory_format=torch.channels_last_3d if dims == 3 else torch.channels_last)
    if settings.compile:
        model = torch.compile(model)
    return model


def inference(model: nn.Module, size: int, settings: Settings, slices_per_nodule: float,
              dims: int = 2) -> dict[str, Any]:
    """Slices/s and nodules/s of ``model`` in eval mode, and single-nodule latency p50/p95
    (``dims`` 3: cubes, one a nodule, counted as "slices" in the record's fields)."""
    device = torch.device(settings.device)
    model.eval()

    def measure(batch: int) -> dict[str, Any]:
        images = _images(batch, size, device, settings.channels_last, dims)

        @torch.inference_mode()
        def step():
            with _autocast(device, settings.precision):
                model(images)

        slices = _rates(_timed(step, device, settings), batch)
        return {"slices_per_s": slices,
                "nodules_per_s": {k: (v / slices_per_nodule if k != "repeats" else v) for k, v in slices.items()}}

    result = _with_oom_halving(measure, settings.batch_size, device)
    # One nodule: its slices as one batch, timed call by call.
    nodule = _images(max(1, round(slices_per_nodule)), size, device, settings.channels_last, dims)
    latencies = []
    with torch.inference_mode(), _autocast(device, settings.precision):
        for index in range(settings.warmup + 50):
            synchronise(device)
            started = time.perf_counter()
            model(nodule)
            synchronise(device)
            if index >= settings.warmup:
                latencies.append(time.perf_counter() - started)
    result["nodule_latency_ms"] = {"p50": 1e3 * float(np.percentile(latencies, 50)),
                                   "p95": 1e3 * float(np.percentile(latencies, 95)),
                                   "slices": int(nodule.shape[0])}
    return result


def training(workload: Workload, settings: Settings) -> dict[str, Any]:
    """Training steps (forward, backward, optimiser) per second, in the workload's unit."""
    device = torch.device(settings.device)
    workload.model.train()

    def measure(batch: int) -> dict[str, Any]:
        images = _images(batch, workload.input_size, device, settings.channels_last, workload.dims)

        def step():
            workload.optimiser.zero_grad(set_to_none=True)
            with _autocast(device, settings.precision):
                loss = workload.train_step(images)
            loss.backward()
            workload.optimiser.step()

        per_iteration = _timed(step, device, settings)
        return {f"{workload.unit}_per_s": _rates(per_iteration, batch // workload.images_per_unit),
                "images_per_s": _rates(per_iteration, batch)}

    return _with_oom_halving(measure, settings.batch_size, device)


def data_path(images: np.ndarray, crop: int, settings: Settings) -> dict[str, Any]:
    """Patches/s of the training data path: batches sampled, cropped and flipped on the device from
    the training set held there (:mod:`lidcbench.training.devicedata`; for cubes (N, S, S, S),
    :mod:`lidcbench.training.volumedata`), as a method's training loop draws them."""
    from lidcbench.training.devicedata import TrainingSet
    from lidcbench.training.volumedata import VolumeSet

    device = torch.device(settings.device)
    labels = np.arange(len(images)) % 2
    data = (VolumeSet if images.ndim == 4 else TrainingSet).on(device, images, labels[:, None], labels, crop)
    generator = torch.Generator(device=device).manual_seed(0)
    batches = _forever(lambda: data.epoch(settings.batch_size, generator))
    return {"patches_per_s": _rates(_timed(lambda: next(batches), device, settings), settings.batch_size),
            "path": "device batches"}


def method_loop(loop, settings: Settings, images_per_unit: int, unit: str) -> dict[str, Any]:
    """Training rate of a method's own loop (``loop``: a :class:`lidcbench.training.loop.TrainLoop`, the
    code ``fit`` runs, at the method's batch size), timed step by step as :func:`training` is."""
    device = loop.device
    loop.model.train()
    batches = _forever(lambda: loop.data.epoch(loop.batch_size, loop.generator))
    per_iteration = _timed(lambda: loop.train_on(itertools.islice(batches, 1)), device, settings)
    return {"batch_size": loop.batch_size, "compile": loop.compiled,
            "images_per_s": _rates(per_iteration, loop.batch_size),
            f"{unit}_per_s": _rates(per_iteration, loop.batch_size // images_per_unit)}


def loop_data(cohort, patches, size: int, seed: int = 0, volumes: bool = False):
    """Labelled training data for timing a method's loop: the whole cohort with ``patches``, or, when
    None, random pixels in the cohort's shape (the loop's speed does not depend on the pixels)."""
    from lidcbench.patches import Patches
    from lidcbench.patches.volumes import Volumes
    from lidcbench.plugins.method import FoldData

    table = cohort.table
    if patches is None and volumes:
        cubes = np.random.default_rng(seed).random((len(table), size, size, size), dtype=np.float32)
        patches = Volumes(images=cubes.astype(np.float16), nodule_ids=table["nodule_id"].to_numpy(dtype=str),
                          source="random", settings={"size": size}, key="random")
    if patches is None:
        counts = table["n_slices"].to_numpy()
        images = np.random.default_rng(seed).random((int(counts.sum()), size, size), dtype=np.float32)
        patches = Patches(images=images.astype(np.float16), nodule_ids=np.repeat(table["nodule_id"].to_numpy(), counts),
                          slice_indices=np.concatenate([np.asarray(s, dtype=np.int64) for s in table["slices"]]),
                          source="random", settings={"size": size}, key="random")
    return FoldData(table, patches, labelled=True)


def _forever(epoch: Callable[[], Iterator]) -> Iterator:
    while True:
        yield from epoch()


def peak_memory(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return {"device_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20}
    # Without a device, the process's peak resident memory is the closest figure.
    return {"process_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ratio(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    try:
        return a[key]["median"] / b[key]["median"]
    except (KeyError, TypeError, ZeroDivisionError):
        return None


