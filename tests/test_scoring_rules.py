"""Rules the pages rely on: paired-comparison errors, pooling by size, bootstrap resamples of one
class, record checks and the profile a device gets."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from synthetic_nodules import nodule_table, slice_predictions
from test_records import make_record

from lidcbench.errors import PredictionsError
from lidcbench.results.records import RunRecord, to_json
from lidcbench.running.fold import FoldJob, plan
from lidcbench.scoring.metrics import bootstrap_auc_ci
from lidcbench.scoring.score import SIZE_SPLIT_MM, compare, nodule_predictions, score_fold, summarize


def _nodules(labels, scores, prefix="n"):
    return pd.DataFrame({"nodule_id": [f"{prefix}{i:03d}" for i in range(len(labels))], "label": labels,
                         "malignancy": scores})


def test_compare_refuses_different_labels_and_one_class():
    a = _nodules([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3])
    with pytest.raises(PredictionsError, match="disagree on labels"):
        compare(a, a.assign(label=[1, 0, 0, 0]))
    one_class = a.assign(label=1)
    with pytest.raises(PredictionsError, match="both benign and malignant"):
        compare(one_class, one_class)
    with pytest.raises(PredictionsError, match="same nodules"):
        compare(a, a.iloc[:3])


def test_pooled_by_size_splits_at_10_mm_and_scores_each_part_on_its_own():
    table = nodule_table(80, seed=3)
    table["diameter_mean_mm"] = np.r_[np.linspace(3, 9.9, 39), [SIZE_SPLIT_MM], np.linspace(10.1, 30, 40)]
    predictions = slice_predictions(table, seed=1, signal=1.0)
    nodules = nodule_predictions(predictions, table)
    summary = summarize({0: score_fold(predictions, table, table)}, nodules)
    small, large = nodules[nodules.diameter_mm < 10], nodules[nodules.diameter_mm >= 10]
    assert len(small) == 39 and len(large) == 41  # exactly 10 mm counts as large
    for stratum, part in zip(("under_10mm", "10mm_or_more"), (small, large)):
        pooled = summary["pooled_by_size"][stratum]
        assert pooled["n"] == len(part) and pooled["malignant"] == int(part.label.sum())
        assert pooled["auc"] == pytest.approx(roc_auc_score(part.label, part.malignancy))


def test_bootstrap_leaves_out_resamples_of_one_class_and_matches_a_plain_bootstrap():
    # Two malignant nodules in twelve: about a fifth of the resamples draw none and have no AUC.
    labels = np.r_[1, 1, np.zeros(10)]
    scores = np.r_[0.9, 0.4, np.linspace(0.05, 0.85, 10)]
    low, high = bootstrap_auc_ci(labels, scores, n_resamples=500, seed=7)
    rng = np.random.default_rng(7)  # the same draws, 250 resamples at a time, scored by scikit-learn
    aucs, skipped = [], 0
    for _ in range(2):
        for draw in rng.integers(0, 12, size=(250, 12)):
            if labels[draw].min() == labels[draw].max():
                skipped += 1
                continue
            aucs.append(roc_auc_score(labels[draw], scores[draw]))
    assert 50 < skipped < 200
    assert [low, high] == pytest.approx(list(np.quantile(aucs, [0.025, 0.975])))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(fold="0"), "fold is not a int"),
    (lambda d: d["nodules"].update(columns=["nodule_id", "label", "malignancy"]), "nodules must hold columns"),
    (lambda d: d["nodules"]["rows"][0].pop(), "rows of that length"),
    (lambda d: d["metrics"].pop("by_size"), "metrics lack \\['by_size'\\]"),
    (lambda d: d.update(extra=1), "unexpected \\['extra'\\]"),
])
def test_a_record_of_the_wrong_shape_is_refused(change, message):
    document = json.loads(to_json(make_record()))
    RunRecord.from_dict(json.loads(json.dumps(document)))  # the unchanged record reads
    change(document)
    with pytest.raises(ValueError, match=message):
        RunRecord.from_dict(document)


def test_the_device_chooses_the_profile_unless_one_is_named(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # planning alone touches no GPU
    assert plan(FoldJob("mtmr", 0, device="cpu")).profile == "cpu"
    assert plan(FoldJob("mtmr", 0, device="cuda")).profile == "paper"
    assert plan(FoldJob("mtmr", 0, device="cpu", profile="paper")).profile == "paper"
    assert plan(FoldJob("mtmr", 0, device="cuda")).params["device"] == "cuda"
