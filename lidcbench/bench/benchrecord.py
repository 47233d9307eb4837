"""Benchmark records (one JSON file per method, profile, device and precision) and their table."""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from lidcbench.errors import RecordError

BENCH_SCHEMA = 1
BENCH_FOLDER = "bench"
# The paper's only speed figure (sec. III-B): reported, not reproduced here.
PAPER_ROW = ("MTMR-Net, paper (reported, not reproduced here)", "TITAN Xp", "< 3 s per nodule (< 0.33 nodules/s)")


def device_slug(device_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-") or "device"


def bench_path(results_dir: str | Path, record: dict[str, Any]) -> Path:
    s = record["settings"]
    parts = [record["method"], record["profile"], device_slug(record["device"]["slug_name"]), s["precision"]]
    parts += ["channels-last"] * bool(s["channels_last"]) + ["compile"] * bool(s["compile"])
    return Path(results_dir) / BENCH_FOLDER / ("-".join(parts) + ".json")


def write_bench_record(record: dict[str, Any], results_dir: str | Path) -> Path:
    path = bench_path(results_dir, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            json.dump(record, handle, indent=1, sort_keys=True, allow_nan=False)
            handle.write("\n")
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def read_bench_records(results_dir: str | Path) -> list[dict[str, Any]]:
    records, problems = [], []
    for path in sorted((Path(results_dir) / BENCH_FOLDER).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            if record.get("schema_version") != BENCH_SCHEMA:
                raise ValueError(f"schema version {record.get('schema_version')}, expected {BENCH_SCHEMA}")
            records.append(record)
        except (OSError, ValueError) as error:
            problems.append(f"{path}: {error}")
    if problems:
        raise RecordError("unreadable benchmark record(s); fix or delete them:\n- " + "\n- ".join(problems))
    return records


def _rate(block: dict[str, Any] | None, key: str) -> str:
    if not block or key not in block:
        return "-" if not block or "error" not in block else "OOM"
    r = block[key]
    return f"{r['median']:,.0f} ({r['min']:,.0f}-{r['max']:,.0f})"


def rows(record: dict[str, Any]) -> list[str]:
    s, inference, training = record["settings"], record["inference"], record["training"]
    latency = inference.get("nodule_latency_ms", {})
    ratio = record.get("harness_over_bare")
    loader_ratio = record.get("loader_over_training")
    memory = record.get("memory", {})
    peak = memory.get("device_peak_mib", memory.get("process_peak_rss_mib"))
    return [
        f"{record['method']} ({record['profile']})", record["device"]["name"],
        f"{s['precision']}{', channels_last' if s['channels_last'] else ''}{', compile' if s['compile'] else ''}",
        str(inference.get("batch_size", s["batch_size"])), _rate(inference, "slices_per_s"),
        _rate(inference, "nodules_per_s"),
        f"{latency.get('p50', float('nan')):.1f} / {latency.get('p95', float('nan')):.1f}" if latency else "-",
        _rate(training, f"{record['training_unit']}_per_s") + f" {record['training_unit']}",
        _rate(record["bare_backbone"], "slices_per_s"),
        "-" if ratio is None else f"{100 * ratio:.0f}%",
        _loader(record.get("loader")),
        "-" if loader_ratio is None else f"{loader_ratio:.1f}x",
        _loop(record),
        "-" if record.get("loop_over_network") is None else f"{100 * record['loop_over_network']:.0f}%",
        "-" if peak is None else f"{peak:,.0f}",
        _code(record.get("versions", {})),
    ]


def _code(versions: dict[str, Any]) -> str:
    commit = versions.get("commit")
    return (f"{versions.get('lidcbench', '?')} @ {commit[:7]}" if commit else f"{versions.get('lidcbench', '?')}, "
            "no commit") + f"; torch {versions.get('torch', '?')}"


def _loader(block: dict[str, Any] | None) -> str:
    if not block:
        return "-"
    # Records made before the device-resident data path timed the DataLoader.
    how = "" if block.get("path") == "device batches" else f" (DataLoader, {block.get('workers')} workers)"
    return _rate(block, "patches_per_s") + how


def _loop(record: dict[str, Any]) -> str:
    loop = record.get("method_loop")
    if not loop:
        return "-"
    unit = record["training_unit"]
    return (f"{_rate(loop, f'{unit}_per_s')} {unit} at batch {loop['batch_size']} "
            f"({loop['precision']}{', compile' if loop.get('compile') else ''})")


HEADERS = ["Method (profile)", "Device", "Precision", "Batch", "Inference slices/s", "Nodules/s",
           "Nodule latency p50 / p95 (ms)", "Training /s", "Bare backbone slices/s", "Harness / bare",
           "Data path patches/s", "Data path / training", "Method loop /s", "Loop / network", "Peak memory (MiB)",
           "Code"]


def throughput_markdown(records: list[dict[str, Any]], mark: str) -> str:
    body = [rows(r) for r in sorted(records, key=lambda r: (r["device"]["name"], r["method"], r["profile"]))]
    has_gpu = any(r["device"]["type"] == "cuda" for r in records)
    lines = [mark, "# Throughput", "",
             "Regenerated by `lidcbench leaderboard` from `results/bench/*.json`, which `lidcbench bench METHOD` "
             "writes. Rates are the median over timed repeats (after warm-up, device synchronised), with the "
             "range over repeats in brackets. Nodules/s divides slices/s by the default cohort's mean slices per "
             "nodule. \"Harness / bare\" compares the method's network with a bare timm forward of the same "
             "backbone on the same device, batch and precision; \"Data path / training\" compares the patches/s "
             "that training batches are drawn at (sampled, cropped and flipped on the device) with the images/s "
             "training consumes (target: at least 2x). \"Method loop\" times the method's own training loop, the "
             "code `fit` runs at the profile's batch, and \"Loop / network\" divides it by the network's training "
             "step at that same batch and precision (target: at least 85%). A dash: the record predates the "
             "figure. \"Code\": the lidcbench version and commit that measured (\"no commit\": a record made "
             "before `bench` recorded it, or from a copy without git metadata).", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    paper = [PAPER_ROW[0], PAPER_ROW[1], "-", "-", "-", PAPER_ROW[2]] + ["-"] * (len(HEADERS) - 6)
    lines += ["| " + " | ".join(paper) + " |", ""]
    if any(r["device"]["type"] == "cuda" and not r.get("method_loop") for r in records):
        lines += ["GPU rows without a method-loop figure were measured before the device-resident training loop "
                  "(no `lidcbench bench` figure then said what `lidcbench run` reaches); "
                  "`bash benchmarks/gpu_check.sh` measures the current code on a GPU, and its rows stand beside "
                  "them.", ""]
    if not has_gpu:
        lines += ["No GPU figure has been measured yet: every row above ran on a CPU. On the CPU the tests check "
                  "only that the benchmark's bf16 autocast and channels_last options run and are recorded, not "
                  "that the GPU path computes correctly; `tests/test_gpu.py` (`python -m pytest -m gpu`) checks "
                  "MTMR-Net's GPU path on a machine with CUDA.", ""]
    return "\n".join(lines)
