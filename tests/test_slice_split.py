"""--split slice: each nodule's slices at random over the folds; each side sees only its own slices; scored per slice."""
import pytest

from lidcbench.cli import main
from lidcbench.protocol.splitcheck import check_split
from lidcbench.protocol.variants import Variant, split_path
from lidcbench.results.records import read_records
from lidcbench.testing.tiny import TinyMethod

SLICE = Variant(split="slice")


def test_the_slice_folds_hold_every_cohort_slice_once_stratified(cohort):
    folds = SLICE.folds()
    slices = cohort.table[["nodule_id", "slices", "label"]].explode("slices")
    assert len(folds.table) == len(slices) and not folds.table.duplicated(["nodule_id", "slice_index"]).any()
    assert set(zip(folds.table["nodule_id"], folds.table["slice_index"])) == \
        set(zip(slices["nodule_id"], slices["slices"].astype(int)))
    labelled = folds.table.merge(cohort.table[["nodule_id", "label"]], on="nodule_id")
    assert (labelled.groupby("fold")["label"].mean() - labelled["label"].mean()).abs().max() <= 0.01
    train, test = folds.split(cohort, 2)
    in_fold = set(folds.table.loc[folds.table["fold"] == 2, "nodule_id"])
    assert set(test["nodule_id"]) == in_fold and len(set(train["nodule_id"]) & in_fold) > len(in_fold) / 2


def test_check_split_finds_the_slice_splits_near_duplicates(annotations):
    from lidcbench.protocol.grouping import load_grouping

    report = check_split(split_path("slice"), annotations, load_grouping(annotations))
    near = next(leak for leak in report.leaks if leak.name == "near-duplicate slices")
    assert report.leaky and near.of == 11094 and near.count > near.of / 2


@pytest.mark.slow  # renders the whole default cohort's patches (about a minute on a loaded machine)
def test_each_side_sees_only_its_own_slices_and_each_slice_is_scored(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "off")  # in this process, so that the spies see the data
    seen = {}
    fit, predict = TinyMethod.fit, TinyMethod.predict

    def pairs(data):
        return set(zip(data.patches.nodule_ids, data.patches.slice_indices.tolist()))

    monkeypatch.setattr(TinyMethod, "fit", lambda self, data: (seen.update(train=pairs(data)), fit(self, data))[1])
    monkeypatch.setattr(TinyMethod, "predict", lambda self, data: (seen.update(test=pairs(data)), predict(self, data))[1])
    assert main(["run", "tiny", "--folds", "1", "--split", "slice", "--out", str(tmp_path / "results")]) == 0
    table = SLICE.folds().table
    in_fold = table["fold"] == 1
    assert seen["test"] == set(zip(table.loc[in_fold, "nodule_id"], table.loc[in_fold, "slice_index"]))
    assert seen["train"] == set(zip(table.loc[~in_fold, "nodule_id"], table.loc[~in_fold, "slice_index"]))
    shared = {n for n, _ in seen["train"]} & {n for n, _ in seen["test"]}
    assert len(shared) > 1000  # the same nodules on both sides, at other slices
    (record,) = read_records(tmp_path / "results")
    assert record.variant["split"] == "slice" and len(record.nodule_frame()) == in_fold.sum()
    assert record.metrics["per_slice"]["slices"] == in_fold.sum()
    assert record.metrics["nodules"] == len({n for n, _ in seen["test"]})
