"""The GPU path of the torch methods (device-resident float16 data, fused Adam, bf16 autocast, channels_last); skipped without CUDA."""
import pytest
import torch

from lidcbench.methods.mtmr import Mtmr
from lidcbench.testing import check_method

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_mtmr_conforms_on_the_gpu():
    check_method(Mtmr, {"backbone": "resnet18", "pretrained": "none", "patch_size": 32, "crop": 28, "epochs": 1,
                        "pairs_per_batch": 4, "max_slices_per_nodule": 1, "device": "cuda"})


@pytest.mark.parametrize("name, params", [
    ("cnn3d", {"width": 4, "patch_size": 16, "crop": 12, "epochs": 1, "lr_steps": (1,), "batch_size": 8}),
    ("cnn25d", {"backbone": "resnet10t", "pretrained": "none", "patch_size": 16, "crop": 12, "epochs": 1,
                "lr_steps": (1,), "batch_size": 8}),
])
def test_the_volume_networks_conform_on_the_gpu(name, params):
    from lidcbench.plugins.registry import Registry

    check_method(Registry(discover_plugins=False).get(name), {**params, "device": "cuda"})


def test_the_training_set_lives_on_the_gpu_in_float16_and_batches_are_drawn_there():
    import numpy as np

    from lidcbench.training.devicedata import TrainingSet

    device = torch.device("cuda")
    images = np.random.default_rng(0).random((64, 32, 32)).astype(np.float16)
    data = TrainingSet.on(device, images, np.zeros((64, 2)), np.arange(64) % 2, 28)
    assert data.images.device.type == "cuda" and data.images.dtype == torch.float16
    assert torch.equal(data.images.cpu(), torch.from_numpy(images))
    generator = torch.Generator(device=device).manual_seed(0)
    batch, targets = next(data.epoch(16, generator))
    assert batch.is_cuda and targets.is_cuda and batch.shape == (16, 1, 28, 28) and batch.dtype == torch.float32


def test_the_loop_uses_fused_adam_and_trains_on_the_gpu_reading_its_losses_once_an_epoch():
    from lidcbench.testing.data import synthetic_split
    from lidcbench.training.loop import adam

    model = torch.nn.Linear(4, 1).cuda()
    assert adam([{"params": model.parameters(), "lr": 1e-3}], torch.device("cuda")).defaults["fused"]
    train, _ = synthetic_split()
    method = Mtmr(backbone="resnet18", pretrained="none", patch_size=32, crop=28, epochs=2, pairs_per_batch=4,
                  max_slices_per_nodule=1, device="cuda")
    loop = method.training_loop(train, torch.device("cuda"))
    assert loop.optimiser.defaults["fused"] and loop.optimiser.defaults["weight_decay"] == 2 * method.eta
    loop.run()
    assert len(loop.history) == 2 and set(loop.history[0]) == {"cls", "reg", "rank", "l2"}
    assert all(isinstance(value, float) for row in loop.history for value in row.values())


def test_bench_times_the_method_loop_on_the_gpu(tmp_path, monkeypatch):
    from lidcbench.bench.benchrecord import read_bench_records
    from lidcbench.cli import main

    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    assert main(["bench", "mtmr", "--device", "cuda", "--profile", "cpu", "--batch-size", "32", "--repeats", "1",
                 "--seconds", "0.2", "--precision", "bf16", "--channels-last", "--no-loader",
                 "--out", str(tmp_path)]) == 0
    (record,) = read_bench_records(tmp_path)
    assert record["method_loop"]["precision"] == "bf16" and record["loop_over_network"] > 0
