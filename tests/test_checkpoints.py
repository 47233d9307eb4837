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


class _FakeTime:
    """The checkpoint module's clock, moved on only by tiny-net's pause after each epoch: saves by time and
    the training seconds are then exact, however loaded the machine."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch):
    import types

    from lidcbench.testing import tinynet

    clock = _FakeTime()
    monkeypatch.setattr(checkpoints, "_clock", clock)
    monkeypatch.setattr(tinynet, "time", types.SimpleNamespace(sleep=clock.sleep))
    return clock


def test_checkpoints_are_saved_by_training_time_and_after_any_epoch_longer_than_that(tmp_path, fake_time):
    method_class = Registry(discover_plugins=False).get("tiny-net")
    train, _ = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    saved = []

    def every_2_5_seconds(name):
        return checkpoints.Checkpointing(tmp_path / name, minutes=2.5 / 60, on_saved=saved.append)

    with checkpoints.saving_to(every_2_5_seconds("a")):
        method_class(epochs=6, epoch_pause=1.0).fit(train)
    assert saved == [3]  # 3 s after the start; 6 is the last epoch (the record follows)
    saved.clear()
    with checkpoints.saving_to(every_2_5_seconds("b")):
        method_class(epochs=4, epoch_pause=5.0).fit(train)  # each epoch longer than the interval
    assert saved == [1, 2, 3]
    saved.clear()
    with checkpoints.saving_to(checkpoints.Checkpointing(tmp_path / "c", on_saved=saved.append)):
        method_class(epochs=5, epoch_pause=60.0).fit(train)  # the default, 10 minutes
    assert saved == []


def test_a_resumed_part_says_its_epoch_and_counts_the_seconds_of_every_part(tmp_path, fake_time):
    method_class = Registry(discover_plugins=False).get("tiny-net")
    train, _ = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    path = tmp_path / "c"
    stopping = checkpoints.Checkpointing(path, every=1, on_saved=_stop_after(2))
    with checkpoints.timing() as first, pytest.raises(Stop), checkpoints.saving_to(stopping):
        method_class(epochs=4, epoch_pause=1.0).fit(train)
    assert first.resumed_from_epoch is None
    fake_time.now += 100.0  # the time between the stop and the rerun counts for nothing
    with checkpoints.timing() as second, checkpoints.saving_to(checkpoints.Checkpointing(path, every=1)):
        method_class(epochs=4, epoch_pause=1.0).fit(train)
    assert second.resumed_from_epoch == 2
    assert second.seconds() == 4.0  # 2 s up to the checkpoint, 2 s after it


def _identity(**changed):
    import json

    identity = {"method code": "9e28aa315718", "checkpoint code": "0c1d2e3f4a5b", "data": "5a6b7c8d9e0f",
                "device": "cpu", "parameters": json.dumps({"epochs": 4, "lr": 0.5})}
    return {**identity, **changed}


@pytest.mark.parametrize("changed, said", [
    ({"method code": "1b2c0d4e5f60"}, "method code differs (saved 9e28aa315718, now 1b2c0d4e5f60)"),
    ({"checkpoint code": "1b2c0d4e5f60"}, "checkpoint code differs (saved 0c1d2e3f4a5b, now 1b2c0d4e5f60)"),
    ({"data": "000000000000"}, "data differs (saved 5a6b7c8d9e0f, now 000000000000)"),
    ({"device": "cuda"}, "device differs (saved cpu, now cuda)"),
    ({"parameters": '{"epochs": 4, "lr": 0.25}'}, "parameters differ (lr: saved 0.5, now 0.25)"),
])
def test_a_checkpoint_of_another_code_data_device_or_parameters_is_a_fresh_start_that_says_why(
        changed, said, tmp_path, capsys):
    method_class = Registry(discover_plugins=False).get("tiny-net")
    train, test = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    path = tmp_path / "checkpoint"
    stopping = checkpoints.Checkpointing(path, every=1, identity=_identity(), on_saved=_stop_after(2))
    with checkpoints.saving_to(stopping), pytest.raises(Stop):
        method_class(epochs=4, lr=0.25).fit(train)
    capsys.readouterr()
    label = "tiny-net fold 0 seed 0"
    with checkpoints.timing() as part, checkpoints.saving_to(
            checkpoints.Checkpointing(path, every=1, identity=_identity(**changed), label=label)):
        afresh = method_class(epochs=4, lr=0.25).fit(train).predict(test)
    err = capsys.readouterr().err
    assert f"checkpoint for {label} not resumed: {said}; starting afresh" in err
    assert "resumed from" not in err and part.resumed_from_epoch is None
    assert afresh.equals(method_class(epochs=4, lr=0.25).fit(train).predict(test))


def test_the_job_identity_names_the_code_data_and_device_it_was_made_from(monkeypatch):
    """The runner's identity (lidcbench.running.job_checkpoint) changes with each part, as the note says."""
    from lidcbench.running import job_checkpoint
    from lidcbench.testing.tinynet import TinyNetMethod

    train, test = synthetic_split(n_train=48, n_test=16, size=32, seed=3)
    table, test_ids = train.nodules, test.nodules["nodule_id"]

    def identity(device="cpu", key="patches-key", table=table):
        return job_checkpoint.job_identity(TinyNetMethod, {"epochs": 4}, device, key, table, test_ids)

    saved = identity()
    assert checkpoints.identity_difference(saved, identity(device="cpu:0")) is None
    assert checkpoints.identity_difference(saved, identity(device="cuda:1")) == "device differs (saved cpu, now cuda)"
    assert checkpoints.identity_difference(saved, identity(key="other-key")).startswith("data differs")
    relabelled = table.assign(label=1 - table["label"])
    assert checkpoints.identity_difference(saved, identity(table=relabelled)).startswith("data differs")
    monkeypatch.setattr(job_checkpoint, "method_code_digest", lambda cls: "1b2c0d4e5f60")
    assert checkpoints.identity_difference(saved, identity()) == \
        f"method code differs (saved {saved['method code']}, now 1b2c0d4e5f60)"


def test_a_second_invocation_of_a_job_does_not_share_its_checkpoint(tmp_path):
    import os

    from lidcbench.errors import CheckpointBusyError

    target = checkpoints.Checkpointing(tmp_path / "job" / "checkpoint", label="tiny-net fold 0 seed 0")
    with checkpoints.held(target):
        busy = f"tiny-net fold 0 seed 0 is being run by another lidcbench \\(process {os.getpid()} on "
        with pytest.raises(CheckpointBusyError, match=busy), checkpoints.held(target):
            pass
        checkpoints.discard(target)  # a finished job removes its lock under the lock
    with checkpoints.held(target):  # and the next invocation takes a new one
        assert (tmp_path / "job" / "lock").is_file()
