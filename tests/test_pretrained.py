"""`--set pretrained=download`: weights from timm's cache when there, a one-line error without a network."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "resnet10t"


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    # huggingface_hub reads its cache folder and endpoint when imported: a fresh process per setting.
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)


def _hub_env(tmp_path: Path, **extra: str) -> dict:
    return {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "0", **extra}


def test_download_loads_weights_that_timm_cache_holds_without_a_network(tmp_path):
    """The cache holds weights saved from a randomly initialised model; the hub endpoint is unreachable."""
    env = _hub_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")  # the discard port: nothing answers
    save = f"""
import timm, torch
from pathlib import Path
from safetensors.torch import save_file
config = timm.models.get_pretrained_cfg({MODEL!r})
snapshot = Path({str(tmp_path / 'hub')!r}) / ("models--" + config.hf_hub_id.replace("/", "--"))
(snapshot / "refs").mkdir(parents=True)
(snapshot / "refs" / "main").write_text("0" * 40)
(snapshot / "snapshots" / ("0" * 40)).mkdir(parents=True)
torch.manual_seed(1)
model = timm.create_model({MODEL!r}, pretrained=False)
save_file(model.state_dict(), str(snapshot / "snapshots" / ("0" * 40) / "model.safetensors"))
torch.save(model.state_dict()["layer4.0.conv1.weight"], {str(tmp_path / 'expected.pt')!r})
"""
    assert _python(save, env).returncode == 0
    load = f"""
import torch
from lidcbench.training.torch_setup import create_backbone
model, note = create_backbone({MODEL!r}, "download")
expected = torch.load({str(tmp_path / 'expected.pt')!r})
assert torch.equal(model.state_dict()["layer4.0.conv1.weight"], expected), "weights not from the cache"
print(note)
"""
    done = _python(load, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("imagenet (") and "model.safetensors" in done.stdout


def test_download_without_a_network_is_a_one_line_error(tmp_path):
    env = _hub_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    code = f"""
from lidcbench.errors import LidcbenchError
from lidcbench.training.torch_setup import create_backbone
try:
    create_backbone({MODEL!r}, "download")
except LidcbenchError as error:
    print(error)
"""
    done = _python(code, env)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith("pretrained=download needs a network, but 127.0.0.1 cannot be reached")
    assert not (tmp_path / "hub").exists() or not list((tmp_path / "hub").rglob("*.safetensors"))
