import json

import pytest

from lidcbench.errors import FoldError, FrozenFileError
from lidcbench.protocol.cohort import build_cohort
from lidcbench.protocol.folds import load_folds
from lidcbench.protocol.grouping import load_grouping
from lidcbench.protocol.rules import Protocol


def test_no_patient_is_in_two_folds(cohort, folds):
    table = cohort.table.assign(fold=folds.assign(cohort))
    assert (table.groupby("patient_id")["fold"].nunique() == 1).all()


def test_each_cohort_nodule_is_in_exactly_one_fold(cohort, folds):
    fold = folds.assign(cohort)
    assert len(fold) == len(cohort.table) and fold.notna().all()
    assert set(fold) == set(range(5))
    tests = [set(folds.split(cohort, k)[1]["nodule_id"]) for k in range(5)]
    assert sum(len(t) for t in tests) == len(cohort.table)
    assert set().union(*tests) == set(cohort.table["nodule_id"])


def test_each_folds_malignant_share_is_within_three_points_of_the_cohort(cohort, folds):
    table = cohort.table.assign(fold=folds.assign(cohort))
    overall = table["label"].mean()
    for _, part in table.groupby("fold"):
        assert abs(part["label"].mean() - overall) <= 0.03


def test_train_and_test_share_no_patient(cohort, folds):
    for k in range(5):
        train, test = folds.split(cohort, k)
        assert not set(train["patient_id"]) & set(test["patient_id"])
        assert len(train) + len(test) == len(cohort.table)


def test_other_protocols_inherit_patient_grouped_folds(annotations, folds):
    other = build_cohort(Protocol(diameter="max", min_readers=2), annotations, load_grouping(annotations))
    table = other.table.assign(fold=folds.assign(other))
    assert (table.groupby("patient_id")["fold"].nunique() == 1).all()


@pytest.mark.parametrize("selection", ["5", "-1", "0,7", "one", ""])
def test_a_fold_out_of_range_is_an_error(folds, selection):
    with pytest.raises(FoldError):
        folds.fold_ids(selection)


@pytest.mark.parametrize("selection", ["0,,1", "0,", ",1", "", " "])
def test_an_empty_item_in_the_fold_list_is_named(folds, selection):
    with pytest.raises(FoldError, match="has an empty item: give 'all' or fold numbers separated by commas"):
        folds.fold_ids(selection)


def test_fold_selection_parses(folds):
    assert folds.fold_ids("all") == [0, 1, 2, 3, 4]
    assert folds.fold_ids("2,0") == [0, 2]
    assert folds.fold_ids(" 2, 0 ") == [0, 2]


def test_a_folds_file_that_does_not_match_the_cohort_is_an_error(cohort, folds, tmp_path):
    document = json.loads(folds.to_json())
    dropped = sorted(document["nodules"])[0]
    del document["nodules"][dropped]
    path = tmp_path / "folds.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FrozenFileError, match="does not match the cohort"):
        load_folds(path).assign(cohort)


def test_a_corrupt_folds_file_is_an_error(tmp_path):
    path = tmp_path / "folds.json"
    path.write_text("{not json")
    with pytest.raises(FrozenFileError, match="cannot read"):
        load_folds(path)
    path.write_text(json.dumps({"version": 1, "n_folds": 5, "seed": 0, "protocol_hash": "x",
                                "patients": {"p": 9}, "nodules": {}}))
    with pytest.raises(FrozenFileError, match="outside"):
        load_folds(path)
