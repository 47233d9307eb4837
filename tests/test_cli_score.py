import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from lidcbench.cli import main
from lidcbench.errors import PredictionsError
from lidcbench.plugins.predictions import read_predictions_csv, validate_predictions
from lidcbench.results.records import read_records


@pytest.fixture(scope="module")
def random_csv(cohort, tmp_path_factory):
    """Random per-slice predictions for every slice of every cohort nodule."""
    slices = cohort.slices()
    slices["malignancy"] = np.random.default_rng(0).random(len(slices))
    path = tmp_path_factory.mktemp("predictions") / "random.csv"
    slices.to_csv(path, index=False)
    return path, slices


def test_score_on_random_predictions_agrees_with_scikit_learn(cohort, folds, random_csv, tmp_path, capsys):
    path, slices = random_csv
    assert main(["score", str(path), "--json", "--out", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    nodules = slices.groupby("nodule_id")["malignancy"].mean()
    table = cohort.table.assign(fold=folds.assign(cohort), malignancy=cohort.table.nodule_id.map(nodules))
    predicted = (table.malignancy >= 0.5).astype(int)
    pooled = printed["summary"]["pooled"]
    assert pooled["auc"] == pytest.approx(roc_auc_score(table.label, table.malignancy))
    assert pooled["accuracy"] == pytest.approx(accuracy_score(table.label, predicted))
    assert pooled["sensitivity"] == pytest.approx(recall_score(table.label, predicted))
    assert pooled["specificity"] == pytest.approx(recall_score(table.label, predicted, pos_label=0))
    fold_aucs = [roc_auc_score(part.label, part.malignancy) for _, part in table.groupby("fold")]
    assert [printed["folds"][str(f)]["classification"]["auc"] for f in range(5)] == pytest.approx(fold_aucs)
    assert printed["summary"]["classification"]["auc"]["mean"] == pytest.approx(np.mean(fold_aucs))
    records = read_records(tmp_path)
    assert [(r.method, r.fold, r.source) for r in records] == [("random", f, "external") for f in range(5)]
    assert records[0].metrics == printed["folds"]["0"]

    assert main(["score", str(path), "--folds", "0"]) == 0  # the terminal tables show the same numbers
    out = capsys.readouterr().out
    fold0 = table[table.fold == 0]
    assert f"{roc_auc_score(fold0.label, fold0.malignancy):.3f}" in out
    assert f"{100 * accuracy_score(fold0.label, fold0.malignancy >= 0.5):.1f}" in out


def test_bad_rows_are_listed_by_file_line(cohort, random_csv, tmp_path, capsys):
    _, slices = random_csv
    bad = slices.head(3000).astype({"slice_index": object, "malignancy": object})
    bad.loc[0, "nodule_id"] = "LIDC-IDRI-9999-00000000"
    bad.loc[1, "malignancy"] = 1.5
    bad.loc[2, "malignancy"] = ""
    bad.loc[3, "slice_index"] = 9999
    bad.loc[4, "slice_index"] = "two"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    assert main(["score", str(path)]) == 2
    message = capsys.readouterr().err
    assert "nothing was scored" in message
    for expected in ("line 2 ('LIDC-IDRI-9999-00000000')", "line 3 (1.5)", "line 4 ('')",
                     "slice 9999", "line 6 ('two')", "without a prediction"):
        assert expected in message, expected


def test_validation_accepts_nodule_level_rows_and_refuses_what_it_cannot_score(cohort, folds):
    ids = cohort.table.nodule_id
    nodule_level = pd.DataFrame({"nodule_id": ids, "slice_index": "", "malignancy": "0.25"})
    predictions = validate_predictions(nodule_level, cohort, folds, required_folds=range(5))
    assert predictions.by_nodule()["malignancy"].eq(0.25).all() and predictions.attributes == ()
    with pytest.raises(PredictionsError, match="unknown"):
        validate_predictions(nodule_level.assign(spiculaton=0.5), cohort)
    with pytest.raises(PredictionsError, match="texture outside"):
        validate_predictions(nodule_level.assign(texture=[1.2] + [0.5] * (len(ids) - 1)), cohort)
    mixed = pd.concat([nodule_level.head(1), nodule_level.head(1).assign(slice_index=cohort.table.slices[0][0])])
    with pytest.raises(PredictionsError, match="both a nodule-level row and slice rows"):
        validate_predictions(mixed, cohort)
    with pytest.raises(PredictionsError, match="repeated") as repeated:
        validate_predictions(pd.concat([nodule_level.head(2), nodule_level.head(1)]), cohort)
    assert f"({ids[0]} nodule-level row (no slice_index))" in str(repeated.value) and "<NA>" not in str(repeated.value)


def test_a_csv_that_is_not_a_table_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(PredictionsError, match="cannot read predictions"):
        read_predictions_csv(path)


def test_protocol_export_lists_every_nodule_with_its_fold_and_place(cohort, folds, tmp_path, capsys):
    path = tmp_path / "cohort.csv"
    assert main(["protocol", "--export", str(path)]) == 0
    exported = pd.read_csv(path)
    assert list(exported.nodule_id) == list(cohort.table.nodule_id)
    assert list(exported.fold) == list(folds.assign(cohort))
    first = cohort.table.iloc[0]
    row = exported.iloc[0]
    assert row.x_mm_from_first_column == pytest.approx(first.centroid_j * first.pixel_spacing)
    assert row.y_mm_from_first_row == pytest.approx(first.centroid_i * first.pixel_spacing)
    assert row.z_mm == pytest.approx(first.centroid_z_mm)
    assert row.slices == ";".join(map(str, first.slices))
    assert f"wrote {path}" in capsys.readouterr().out
