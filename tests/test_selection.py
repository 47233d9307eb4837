"""Model selection on the test fold (--selection best-epoch-on-test): the runner chooses, the method never sees a label."""
import pytest
from sklearn.metrics import roc_auc_score

from lidcbench.cli import main
from lidcbench.plugins.method import FoldData
from lidcbench.protocol.variants import Variant
from lidcbench.results.records import read_records
from lidcbench.testing.data import synthetic_split
from lidcbench.testing.tinynet import TinyNetMethod
from lidcbench.training import checkpoints, snapshots

SMALL = ["--diameter-min", "20"]  # ~150 nodules: the whole path in seconds
EPOCHS = 4
SELECT = ["--selection", "best-epoch-on-test"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")  # the patches rendered once for this file's runs


@pytest.fixture
def env(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(cache))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    return tmp_path


def _fold_data(fold: int):
    """The runner's train and test data of ``fold`` under the small protocol, built here without the runner."""
    from lidcbench.patches.cache import load_patches
    from lidcbench.patches.sources import make_source
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.rules import Protocol

    cohort = load_cohort(Protocol(diameter_min_mm=20))
    patches = load_patches(cohort, make_source("contours"), size=64, progress=False)
    train_table, test_table = Variant(selection="best-epoch-on-test").folds().split(cohort, fold)
    return (FoldData(train_table, patches.select(train_table["nodule_id"]), labelled=True),
            FoldData.unlabelled(test_table, patches.select(test_table["nodule_id"])), test_table)


def test_the_kept_epoch_is_the_one_with_the_best_test_auc(env):
    out = env / "results"
    assert main(["run", "tiny-net", "--folds", "0", "--set", f"epochs={EPOCHS}", "--out", str(out),
                 *SELECT, *SMALL]) == 0
    (record,) = read_records(out)
    assert record.variant["selection"] == "best-epoch-on-test"
    assert record.variant["hash"] == Variant(selection="best-epoch-on-test").hash
    chosen = record.metrics["selection"]
    assert chosen["epochs"] == EPOCHS and len(chosen["test_auc_by_epoch"]) == EPOCHS

    # Each epoch's test AUC again, independently: tiny-net trained for k epochs from scratch (its
    # schedule does not depend on the total) is the runner's epoch k; scored here with scikit-learn.
    train, test, test_table = _fold_data(0)
    labels = test_table.set_index("nodule_id")["label"]
    aucs = []
    for k in range(1, EPOCHS + 1):
        by_nodule = TinyNetMethod(epochs=k).fit(train).predict(test).groupby("nodule_id")["malignancy"].mean()
        aucs.append(roc_auc_score(labels.loc[by_nodule.index], by_nodule))
    assert chosen["test_auc_by_epoch"] == pytest.approx(aucs, abs=1e-9)
    assert record.metrics["classification"]["auc"] == pytest.approx(max(aucs), abs=1e-9)
    assert chosen["epoch"] == aucs.index(max(aucs)) + 1
    assert len(set(round(a, 9) for a in aucs)) > 1  # the epochs differ, so the choice is a real one


def test_the_method_predicts_every_epoch_without_labels(env, cache, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "off")  # in this process, so that the spy below sees the calls
    seen = []
    predict = TinyNetMethod.predict

    def spy(self, data):
        seen.append((data.labelled, sorted(set(data.nodules.columns) & {"label", "malignancy", "readers_malignancy"})))
        return predict(self, data)

    monkeypatch.setattr(TinyNetMethod, "predict", spy)
    assert main(["run", "tiny-net", "--folds", "1", "--set", "epochs=3", "--out", str(env / "results"),
                 *SELECT, *SMALL]) == 0
    assert seen == [(False, [])] * (1 + 3)  # the last epoch as the protocol runs it, then each epoch once
    assert not list((cache / "checkpoints").rglob("epoch-*.pt"))  # the epochs' weights are gone


def test_a_method_without_epochs_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    assert main(["run", "diameter", "--folds", "0", "--out", str(tmp_path / "results"), *SELECT]) == 2
    said = capsys.readouterr()
    assert "does not train by epochs" in said.err + said.out
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_one_variant_at_a_time_with_selection_too(env, capsys):
    assert main(["run", "tiny-net", "--split", "nodule", *SELECT, "--out", str(env / "results")]) == 2
    assert "one variant at a time" in " ".join((capsys.readouterr().err).split())


class Stop(Exception):
    """Stands for a stop right after a checkpoint was written."""


def test_a_resumed_job_still_replays_every_epoch(tmp_path):
    train, test = synthetic_split(n_train=48, n_test=16, size=32, seed=3)

    def fit_and_replay(folder, target):
        method = TinyNetMethod(epochs=EPOCHS)
        with checkpoints.saving_to(target), snapshots.recording(folder) as recording:
            method.fit(train)
        return snapshots.replay(recording, lambda: method.predict(test))

    uninterrupted = fit_and_replay(tmp_path / "a", None)

    def stop(done):
        if done == 2:
            raise Stop

    path = tmp_path / "b" / "checkpoint"
    with pytest.raises(Stop):
        fit_and_replay(tmp_path / "b" / "epochs", checkpoints.Checkpointing(path, every=1, on_saved=stop))
    resumed = fit_and_replay(tmp_path / "b" / "epochs", checkpoints.Checkpointing(path, every=1))
    assert len(resumed) == EPOCHS and all(r.equals(u) for r, u in zip(resumed, uninterrupted))
    assert not uninterrupted[0].equals(uninterrupted[-1])  # the epochs' predictions differ: the check can fail


def test_a_trainloop_method_replays_every_epoch_into_its_own_model(tmp_path):
    """mtmr and cnn train through lidcbench.training.loop.TrainLoop (frozen): its epochs are recorded unchanged."""
    from lidcbench.plugins.registry import Registry

    params = {"backbone": "resnet10t", "pretrained": "none", "patch_size": 32, "crop": 28, "epochs": 2,
              "max_slices_per_nodule": 1, "device": "cpu", "lr_steps": (1,), "pairs_per_batch": 4}
    train, test = synthetic_split(n_train=24, n_test=8, size=32, seed=3)
    method = Registry(discover_plugins=False).get("mtmr")(**params)
    with snapshots.recording(tmp_path / "epochs") as recording:
        method.fit(train)
    final = method.predict(test)
    by_epoch = snapshots.replay(recording, lambda: method.predict(test))
    assert len(by_epoch) == 2 and by_epoch[-1].equals(final) and not by_epoch[0].equals(final)
    assert method.predict(test).equals(final)  # the model ends with the last epoch's weights
