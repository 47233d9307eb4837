"""`lidcbench bench` measures and records; timing figures are printed, never asserted."""

import pytest
import torch

from lidcbench.bench import throughput as bench
from lidcbench.bench.benchrecord import read_bench_records
from lidcbench.cli import main
from lidcbench.errors import LidcbenchError


@pytest.fixture
def quick(monkeypatch, tmp_path):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_bench_writes_a_record_with_every_figure_and_the_leaderboard_shows_it(quick, capsys):
    out = quick / "results"
    code = main(["bench", "mtmr", "--device", "cpu", "--batch-size", "4", "--repeats", "2", "--seconds", "0.05",
                 "--no-loader", "--out", str(out)])
    assert code == 0
    (record,) = read_bench_records(out)
    assert record["device"]["type"] == "cpu" and record["settings"]["precision"] == "fp32"
    assert record["training_unit"] == "pairs"
    for block, key in ((record["inference"], "slices_per_s"), (record["training"], "pairs_per_s"),
                       (record["bare_backbone"], "slices_per_s")):
        assert block[key]["repeats"] == 2 and block[key]["min"] <= block[key]["median"] <= block[key]["max"]
    assert record["inference"]["nodules_per_s"]["median"] == pytest.approx(
        record["inference"]["slices_per_s"]["median"] / record["settings"]["slices_per_nodule"])
    assert record["harness_over_bare"] > 0
    # The method's own loop (the code fit runs, the profile's 16 pairs) beside the network at that batch.
    loop, network = record["method_loop"], record["network_at_loop_batch"]
    assert loop["batch_size"] == network["batch_size"] == 32 and loop["data"] == "random pixels"
    assert loop["pairs_per_s"]["median"] == pytest.approx(loop["images_per_s"]["median"] / 2)
    assert record["loop_over_network"] == pytest.approx(loop["images_per_s"]["median"]
                                                        / network["images_per_s"]["median"])
    assert f"reaches {100 * record['loop_over_network']:.0f}% of the" in capsys.readouterr().out
    assert main(["leaderboard", "--results", str(out), "--out", str(quick / "boards"), "--no-analyses"]) == 0
    text = (quick / "boards" / "throughput.md").read_text()
    assert "mtmr (cpu)" in text and "TITAN Xp" in text and "No GPU figure has been measured yet" in text
    assert "tested for correctness" not in text and "not that the GPU path computes correctly" in text


def test_an_out_of_memory_halves_the_batch_and_is_recorded():
    calls = []

    def measure(batch):
        calls.append(batch)
        if batch > 8:
            raise bench.torch.OutOfMemoryError("simulated")
        return {"ok": True}

    result = bench._with_oom_halving(measure, 32, bench.torch.device("cpu"))
    assert calls == [32, 16, 8] and result == {"ok": True, "batch_size": 8, "oom_halvings": [32, 16]}


def test_a_method_without_a_network_is_a_named_error(quick, capsys):
    assert main(["bench", "lasso", "--device", "cpu", "--out", str(quick)]) == 2
    assert "no torch network" in capsys.readouterr().err


def test_bf16_and_channels_last_paths_run_on_the_cpu(quick):
    out = quick / "results"
    assert main(["bench", "cnn", "--device", "cpu", "--batch-size", "4", "--repeats", "1", "--seconds", "0.05",
                 "--precision", "bf16", "--channels-last", "--no-loader", "--out", str(out)]) == 0
    (record,) = read_bench_records(out)
    assert record["settings"]["precision"] == "bf16" and record["settings"]["channels_last"]
    assert record["training_unit"] == "slices" and record["training"]["slices_per_s"]["median"] > 0


def test_channels_last_refuses_a_network_whose_weights_and_batches_differ_in_rank():
    settings = bench.Settings(device="cpu", batch_size=2, channels_last=True)
    cubes_into_2d = torch.nn.Sequential(torch.nn.Conv2d(8, 4, 3))  # a 2.5D network: cubes, slices as channels
    with pytest.raises(LidcbenchError, match="batches are 5D but it has 4D convolution weights"):
        bench.prepare(cubes_into_2d, torch.device("cpu"), settings, dims=3)
    model = bench.prepare(torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3)), torch.device("cpu"), settings, dims=3)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
