"""Part of LIDC-IDRI downloaded: coverage on every line, record and leaderboard row; a fold with no
test nodule skipped and marked; a training set that cannot train is a one-line error before training."""
import json
from pathlib import Path

import pandas as pd
import pytest

from lidcbench.baselines.linear import LassoMethod
from lidcbench.cli import main
from lidcbench.errors import TrainingSetError
from lidcbench.patches.sources.ct import DICOM_ROOT_ENV
from lidcbench.patches.sources.synthetic_ct import write_series
from lidcbench.results.coverage import Coverage, cohort_coverage, scored_and_total
from lidcbench.results.records import RunRecord, read_records
from lidcbench.results.skips import check_training_set, read_skips
from lidcbench.testing.tiny import TinyMethod

pytestmark = pytest.mark.lidc_ct


@pytest.fixture(scope="module")
def partial_root(tmp_path_factory, cohort, folds):
    """Two small scans (one with a malignant nodule, one with a benign) from each of folds 1-4, none from fold 0."""
    table = cohort.table.assign(fold=folds.assign(cohort))
    scans = table.groupby("scan_id").agg(fold=("fold", "first"), malignant=("label", "max"),
                                         benign=("label", "min"), slices=("n_slices", "sum"))
    chosen = []
    for k in (1, 2, 3, 4):
        in_fold = scans[scans["fold"] == k].sort_values(["slices"])
        chosen += [in_fold[in_fold["malignant"] == 1].index[0], in_fold[in_fold["benign"] == 0].index[0]]
    root = tmp_path_factory.mktemp("partial-LIDC-IDRI")
    for scan_id in chosen:
        nodules = table[table["scan_id"] == scan_id]
        write_series(int(scan_id), nodules, root, "tcia", slices={k for ks in nodules["slices"] for k in ks})
    present = table[table["scan_id"].isin(chosen)]
    return root, present, table


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv(DICOM_ROOT_ENV, raising=False)
    return tmp_path


def test_a_partial_run_says_its_coverage_skips_an_empty_fold_and_the_leaderboard_marks_it(
        partial_root, env, capsys, cohort):
    root, present, table = partial_root
    out, boards = env / "results", env / "boards"
    argv = ["run", "tiny", "--source", "ct", "--dicom-root", str(root), "--allow-missing", "--folds", "0,1",
            "--out", str(out)]
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    fold1 = present[present["fold"] == 1]
    assert (f"ct source: {len(present)} of {len(table)} cohort nodules have their scans under {root} "
            f"({present['series_uid'].nunique()} of {table['series_uid'].nunique()} scans)") in printed
    assert f"fold 0: 0 of {(table['fold'] == 0).sum()} test nodules present; skipped: no test nodules present" \
        in printed
    assert f"fold 1: {len(fold1)} of {(table['fold'] == 1).sum()} test nodules present" in printed
    assert "skipped tiny fold 0 seed 0: no test nodules present" in printed
    (record,) = read_records(out)
    assert record.fold == 1 and record.coverage["fold_scored"] == len(fold1) == len(record.nodules["rows"])
    assert record.coverage["cohort_nodules"] == len(table) and record.coverage["present_nodules"] == len(present)
    (skipped,) = read_skips(out)
    assert (skipped.fold, skipped.reason, skipped.setting) == (0, "no test nodules present", record.setting)

    assert main(["leaderboard", "--results", str(out), "--out", str(boards), "--no-analyses"]) == 0
    (page,) = boards.glob("*-ct-*.md")
    text = page.read_text()
    cohort_in_folds = int((table["fold"] <= 1).sum())
    row = next(line for line in text.splitlines() if line.startswith("| tiny |"))
    assert f"| {len(fold1)} / {cohort_in_folds} (" in row
    assert text.index("**Partial coverage.**") < text.index("## Benign vs malignant")
    assert "tiny seed 0, fold 0: no test nodules present" in text
    assert "**partial**" in (boards / "README.md").read_text()
    assert main(["leaderboard", "--results", str(out), "--out", str(boards), "--no-analyses",
                 "--min-coverage", "0.5"]) == 0
    text = page.read_text()
    assert not any(line.startswith("| tiny |") for line in text.splitlines()) and "**Rows hidden**" in text


def test_min_coverage_refuses_partial_data_before_building_anything(partial_root, env, capsys):
    root, _, _ = partial_root
    argv = ["run", "tiny", "--source", "ct", "--dicom-root", str(root), "--allow-missing", "--folds", "1",
            "--out", str(env / "results"), "--min-coverage", "0.5"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "below --min-coverage 0.5" in error and len(error.strip().splitlines()) == 1
    assert not (env / "cache" / "patches").exists() and not (env / "results").exists()


def test_a_training_set_a_method_cannot_learn_from_is_a_one_line_error(cohort):
    table = cohort.table
    benign_only = table[table["label"] == 0].head(30)
    with pytest.raises(TrainingSetError, match="fold 3: .* holds no malignant nodule"):
        check_training_set(TinyMethod(), benign_only, 3)
    with pytest.raises(TrainingSetError, match="holds 0 nodule"):
        check_training_set(TinyMethod(), table.iloc[:0], 0)
    two_patients = table[table["patient_id"].isin(table["patient_id"].unique()[:2])]
    with pytest.raises(TrainingSetError, match="inner_folds=5"):
        check_training_set(LassoMethod(inner_folds=5), two_patients, 2)
    check_training_set(TinyMethod(), table, 2)  # the whole cohort trains


def test_records_made_before_coverage_was_kept_still_read(cohort):
    committed = Path(__file__).resolve().parents[1] / "results"
    document = json.loads(next(committed.glob("*/diameter/fold0-seed0.json")).read_text())
    document.pop("coverage", None)
    record = RunRecord.from_dict(document)
    assert record.coverage is None
    assert scored_and_total(record) == (len(document["nodules"]["rows"]), len(document["nodules"]["rows"]))
    left_out = {**document, "metrics": {**document["metrics"], "left_out_missing_scans": ["a", "b"]}}
    assert scored_and_total(RunRecord.from_dict(left_out))[1] == len(document["nodules"]["rows"]) + 2


def test_coverage_counts_nodules_and_scans(cohort):
    table = cohort.table
    missing = table[table["patient_id"] != table["patient_id"].iloc[0]]["nodule_id"]
    coverage = cohort_coverage(table, missing)
    first = table[table["patient_id"] == table["patient_id"].iloc[0]]
    assert coverage == Coverage(len(table), len(first), table["series_uid"].nunique(), first["series_uid"].nunique())
    assert coverage.partial and coverage.fraction == pytest.approx(len(first) / len(table))
    assert not cohort_coverage(table, pd.Series([], dtype=str)).partial
