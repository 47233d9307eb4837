"""A job interrupted after epoch 2 of 4 resumes from its checkpoint and predicts exactly as an uninterrupted one."""
import pytest

from lidcbench.plugins.registry import Registry
from lidcbench.testing.data import synthetic_split
from lidcbench.training import checkpoints

SMALL_TORCH = {"backbone": "resnet10t", "pretrained": "none", "patch_size": 32, "crop": 28, "epochs": 4,
               "max_slices_per_nodule": 1, "device": "cpu", "lr_steps": (3,)}
METHODS = {  # mtmr and cnn share lidcbench.training.loop.TrainLoop, so mtmr stands for both
    "tiny-net": {"epochs": 4},
    "mtmr": {**SMALL_TORCH, "pairs_per_batch": 4},
}


class Stop(Exception):
    """Stands for Ctrl-C or a preemption right after a checkpoint was written."""


def _stop_after(epoch):
    def on_saved(done):
        if done == epoch:
            raise Stop

    return on_saved


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_resumed_job_predicts_as_an_uninterrupted_one(name, tmp_path, capsys):
    method_class, params = Registry(discover_plugins=False).get(name), METHODS[name]
    train, test = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    uninterrupted = method_class(**params).fit(train).predict(test)

    path = tmp_path / "fold0-seed0.checkpoint"
    with checkpoints.saving_to(checkpoints.Checkpointing(path, every=1, on_saved=_stop_after(2))):
        with pytest.raises(Stop):
            method_class(**params).fit(train)
    assert path.is_file()
    with checkpoints.saving_to(checkpoints.Checkpointing(path, every=1)):
        resumed = method_class(**params).fit(train).predict(test)
    assert "after epoch 2 of 4" in capsys.readouterr().err
    assert resumed.equals(uninterrupted)


def test_resuming_without_the_generators_would_not_reproduce_the_run(tmp_path):
    """The check above can fail: a resume that skips restoring the random generators drifts."""
    import torch

    method_class, params = Registry(discover_plugins=False).get("tiny-net"), METHODS["tiny-net"]
    train, test = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    uninterrupted = method_class(**params).fit(train).predict(test)
    path = tmp_path / "c.checkpoint"
    with checkpoints.saving_to(checkpoints.Checkpointing(path, every=1, on_saved=_stop_after(2))):
        with pytest.raises(Stop):
            method_class(**params).fit(train)
    document = torch.load(path, weights_only=False)
    document["generators"]["torch"] = torch.manual_seed(99).get_state()
    torch.save(document, path)
    with checkpoints.saving_to(checkpoints.Checkpointing(path, every=1)):
        drifted = method_class(**params).fit(train).predict(test)
    assert not drifted.equals(uninterrupted)


def test_no_checkpoint_is_written_outside_a_fold_job_or_after_the_last_epoch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    method_class = Registry(discover_plugins=False).get("tiny-net")
    train, _ = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    method_class(epochs=3).fit(train)
    saved = []
    with checkpoints.saving_to(checkpoints.Checkpointing(tmp_path / "c.checkpoint", every=2, on_saved=saved.append)):
        method_class(epochs=4).fit(train)
    assert saved == [2]  # every 2 epochs, and not after the 4th: the record follows at once
    assert [p.name for p in tmp_path.iterdir()] == ["c.checkpoint"]


class _Planted:
    """Unpickled, it creates the file ``marker``: stands for code a planted checkpoint would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return self.marker.touch, ()


def test_a_planted_checkpoint_runs_no_code_and_is_a_fresh_start(tmp_path, capsys):
    import pickle

    method_class = Registry(discover_plugins=False).get("tiny-net")
    train, test = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    uninterrupted = method_class(epochs=3).fit(train).predict(test)
    path, marker = tmp_path / "checkpoint", tmp_path / "planted-ran"
    path.write_bytes(pickle.dumps({"format": checkpoints.FORMAT, "objects": _Planted(marker)}))
    pickle.loads(path.read_bytes())  # the plant works when unpickled
    assert marker.exists()
    marker.unlink()
    with checkpoints.saving_to(checkpoints.Checkpointing(path, every=5)):
        resumed = method_class(epochs=3).fit(train).predict(test)
    assert not marker.exists()  # the pickle's code did not run
    assert "is not a valid checkpoint" in capsys.readouterr().err
    assert resumed.equals(uninterrupted)
