"""The size baseline is always there to compare with: computed where no diameter record is (a results folder
without one, an external CSV), on `lidcbench score`'s output, and for external rows put beside records."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_leaderboard import _delong_by_placements

from lidcbench.cli import main
from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.folds import load_folds
from lidcbench.reports.regenerate import regenerate
from lidcbench.results.records import read_record
from lidcbench.running.size_baseline import COMPUTED_NOTE, size_baseline

COMMITTED = Path(__file__).resolve().parents[1] / "results"


def _committed_diameter_fold0():
    """The committed diameter record of fold 0 on the protocol's contours page (made by `lidcbench run`)."""
    for path in sorted(COMMITTED.glob("*-contours-*-default/diameter/fold0-seed0.json")):
        record = read_record(path)
        if record.variant is None:
            return path, record
    pytest.skip("no committed diameter record of fold 0")


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    """A weak external method's predictions for every nodule of fold 0."""
    _, test = load_folds().split(load_cohort(), 0)
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("external") / "mynet.csv"
    pd.DataFrame({"nodule_id": test["nodule_id"], "malignancy": 0.3 * test["label"] + 0.7 * rng.random(len(test))}
                 ).to_csv(path, index=False)
    return path


def _expected_cell(predictions_path, diameter_record):
    ours = pd.read_csv(predictions_path).merge(diameter_record.nodule_frame()[["nodule_id", "label"]])
    ours = ours.sort_values("nodule_id")
    theirs = diameter_record.nodule_frame().sort_values("nodule_id")
    difference, low, high, p = _delong_by_placements(ours["label"].to_numpy(), ours["malignancy"].to_numpy(),
                                                     theirs["malignancy"].to_numpy())
    return difference, low, high, p


def test_the_computed_baseline_equals_the_recorded_one():
    _, record = _committed_diameter_fold0()
    computed = size_baseline(load_cohort(), load_folds(), [0]).fold_nodules(0).set_index("nodule_id")
    recorded = record.nodule_frame().set_index("nodule_id")
    assert sorted(computed.index) == sorted(recorded.index)
    assert np.allclose(computed.loc[recorded.index, "malignancy"], recorded["malignancy"], atol=1e-12, rtol=0)


def test_a_page_without_diameter_records_computes_the_baseline_and_says_so(predictions, tmp_path):
    results = tmp_path / "results"
    assert main(["score", str(predictions), "--folds", "0", "--out", str(results), "--json"]) == 0
    (page,) = [p for p in regenerate(results, tmp_path / "boards") if p.suffix == ".md" and p.name != "README.md"]
    text = page.read_text()
    assert f"(computed)**: {COMPUTED_NOTE}" in text
    difference, low, high, p = _expected_cell(predictions, _committed_diameter_fold0()[1])
    row = next(line for line in text.splitlines() if line.startswith("| mynet (external) | 0 | 0 |"))
    assert f"| {difference:+.3f} [{low:+.3f}, {high:+.3f}], p = {p:.2g} |" in row, row
    assert "| diameter: the readers' mean diameter (annotation-derived) (computed) | 0 | 0 |" in text


def test_score_prints_the_difference_from_size(predictions, capsys):
    assert main(["score", str(predictions), "--folds", "0", "--json"]) == 0
    versus = json.loads(capsys.readouterr().out)["versus_diameter"]
    difference, low, high, p = _expected_cell(predictions, _committed_diameter_fold0()[1])
    assert versus["difference"] == pytest.approx(difference, abs=1e-9)
    assert versus["ci"] == pytest.approx([low, high], abs=1e-9) and versus["p_value"] == pytest.approx(p, rel=1e-6)
    assert main(["score", str(predictions), "--folds", "0"]) == 0
    assert f"ΔAUC vs diameter: {difference:+.3f} [{low:+.3f}, {high:+.3f}], DeLong p = {p:.2g}" \
        in capsys.readouterr().out


def test_external_predictions_join_the_page_of_the_records(predictions, tmp_path, capsys):
    path, record = _committed_diameter_fold0()
    results = tmp_path / "results"
    target = results / path.relative_to(COMMITTED)
    target.parent.mkdir(parents=True)
    shutil.copy(path, target)
    out = tmp_path / "boards"
    assert main(["leaderboard", "--results", str(results), "--out", str(out), "--no-analyses",
                 "--external", f"mynet={predictions}"]) == 0
    text = (out / f"{record.board}.md").read_text()
    difference, low, high, p = _expected_cell(predictions, record)
    row = next(line for line in text.splitlines() if line.startswith("| mynet (external) | 0 | 0 |"))
    assert f"| {difference:+.3f} [{low:+.3f}, {high:+.3f}], p = {p:.2g} |" in row, row
    assert "(computed)" not in text  # the record's diameter is the reference
    assert sorted(p.name for p in out.glob("*.md")) == sorted([f"{record.board}.md", "README.md"])


def test_a_bad_external_option_is_one_line_before_any_work(tmp_path, capsys):
    for bad in ("mynet", f"mynet={tmp_path / 'absent.csv'}", "my net=x.csv"):
        assert main(["leaderboard", "--results", str(tmp_path), "--external", bad]) == 2
        error = capsys.readouterr().err
        assert len(error.strip().splitlines()) == 1 and ("--external" in error or "method name" in error), error
