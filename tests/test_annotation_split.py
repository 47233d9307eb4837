"""--split annotation: each reader's annotation a sample with its own rating, folds at random over annotations."""
import numpy as np
import pytest

from lidcbench.cli import main
from lidcbench.protocol.annotationcohort import load_annotation_cohort
from lidcbench.protocol.grouping import load_grouping
from lidcbench.protocol.variants import Variant
from lidcbench.results.records import read_records

ANNOTATION = Variant(split="annotation")


@pytest.fixture(scope="module")
def samples():
    return load_annotation_cohort()


def test_each_sample_is_one_readers_annotation_under_the_protocols_rules_read_per_annotation(samples, annotations):
    table = samples.table
    assert (table["n_readers"] == 1).all() and table["annotation_ids"].map(len).eq(1).all()
    own = annotations.by_id().loc[[ids[0] for ids in table["annotation_ids"]]]
    assert (table["malignancy"].to_numpy() == own["malignancy"].to_numpy()).all()  # that reader's own rating
    assert not (table["malignancy"] == 3).any() and (table["label"] == (table["malignancy"] > 3)).all()
    assert table["diameter_mean_mm"].between(3, 30).all()  # the size rule on the reader's own diameter
    grouping = load_grouping(annotations)
    assert all(ids[0] in grouping[nodule] for ids, nodule in zip(table["annotation_ids"], table["nodule_of"]))


def test_the_annotation_folds_split_one_nodules_outlines_over_folds(samples, cohort):
    fold = ANNOTATION.folds().assign(samples)
    assert set(fold) == set(range(5))
    per_nodule = samples.table.assign(fold=fold).groupby("nodule_of")["fold"].nunique()
    assert (per_nodule > 1).sum() > 500  # the same nodule drawn by another reader sits in training
    labels = samples.table["label"]
    assert (labels.groupby(fold).mean() - labels.mean()).abs().max() <= 0.01
    known = samples.table["nodule_label"].notna()
    in_cohort = samples.table.loc[known, "nodule_of"]
    assert set(in_cohort) <= set(cohort.table["nodule_id"])
    assert np.array_equal(samples.table.loc[known, "nodule_label"].astype(int),
                          in_cohort.map(cohort.table.set_index("nodule_id")["label"]).to_numpy())


@pytest.mark.slow  # renders every annotation's own contour (about two minutes on a loaded machine)
def test_a_run_scores_each_annotation_and_names_its_nodule(tmp_path):
    assert main(["run", "diameter", "--folds", "0", "--split", "annotation", "--out", str(tmp_path)]) == 0
    (record,) = read_records(tmp_path)
    rows = record.nodule_frame()
    samples = load_annotation_cohort().table.set_index("nodule_id")
    test = samples[ANNOTATION.folds().assign(load_annotation_cohort()).to_numpy() == 0]
    assert sorted(rows["nodule_id"]) == sorted(test.index) and record.variant["split"] == "annotation"
    assert (rows.set_index("nodule_id")["label"] == test["label"]).all()
    assert (rows.set_index("nodule_id")["nodule_of"] == test["nodule_of"]).all()
