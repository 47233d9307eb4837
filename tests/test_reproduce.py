"""`lidcbench reproduce`: a record's job rerun by today's code, and the plan check over the committed records."""
import json
from pathlib import Path

import pytest

from lidcbench.cli import main
from lidcbench.plugins.registry import default_registry
from lidcbench.results.records import read_record, read_records

COMMITTED = Path(__file__).resolve().parents[1] / "results"
SMALL = ["--diameter-min", "20"]  # ~150 nodules: a diameter fold in seconds


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    return tmp_path


def _unknown_parameters(record) -> set[str]:
    """Recorded parameters that today's method does not take ("weights_loaded" is the runner's note)."""
    taken = set(default_registry().get(record.method).param_names())
    return set(record.method_params) - {"weights_loaded"} - taken


def test_plan_only_over_the_committed_records_names_each_stale_record_and_its_parameter(capsys):
    records = read_records(COMMITTED)
    stale = {(r.method, r.fold, r.seed): _unknown_parameters(r) for r in records if _unknown_parameters(r)}
    code = main(["reproduce", str(COMMITTED), "--plan-only"])
    lines = capsys.readouterr().out.splitlines()
    assert code == (1 if stale else 0)
    refused = [line for line in lines if "refuses this job" in line]
    assert len(refused) == len(stale)
    for record in records:
        mine = [line for line in refused if f"/{record.method}/fold{record.fold}-seed{record.seed}.json:" in line]
        unknown = stale.get((record.method, record.fold, record.seed), set())
        assert len(mine) == (1 if unknown else 0), (record.method, record.fold)
        assert all(name in mine[0] for name in unknown)
    assert f"plan: {len(records) - len(stale)} of {len(records)} record(s) accepted" in lines[-1]
    # The baselines' records are today's jobs: nothing about them is refused.
    assert not [key for key in stale if key[0] in ("diameter", "lasso", "elastic-net")]


def test_a_diameter_fold_reproduces_and_a_changed_probability_is_caught(env, capsys):
    out = env / "results"
    assert main(["run", "diameter", "--folds", "1", "--out", str(out), *SMALL]) == 0
    (path,) = sorted(out.rglob("fold1-seed0.json"))
    capsys.readouterr()
    assert main(["reproduce", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "largest |probability difference| 0," in printed and "agrees" in printed and "DIFFERS" not in printed

    # The comparison itself, on the same record with one probability moved by 0.01 (no third run needed).
    from lidcbench.results.records import RunRecord, read_record
    from lidcbench.running.reproduce import compare

    recorded = read_record(path)
    document = recorded.to_dict()
    column = document["nodules"]["columns"].index("malignancy")
    row = document["nodules"]["rows"][3]
    row[column] = row[column] + 0.01 if row[column] < 0.5 else row[column] - 0.01
    changed = RunRecord.from_dict(json.loads(json.dumps(document)))
    result = compare(path, changed, recorded, tolerance=0.001)
    assert result.max_probability_difference == pytest.approx(0.01) and not result.agrees
    assert compare(path, recorded, recorded, tolerance=0.0).agrees


def test_reproduce_refuses_a_missing_record_and_a_negative_tolerance(env, capsys):
    assert main(["reproduce", str(env / "nothing.json")]) == 2
    assert "no such record" in capsys.readouterr().err
    assert main(["reproduce", str(COMMITTED), "--plan-only", "--tolerance", "-1"]) == 2
    assert "--tolerance" in capsys.readouterr().err


def test_a_variant_record_is_rerun_under_its_variant():
    from lidcbench.running.reproduce import compare, job_for

    path = next(COMMITTED.glob("*-split-slice-*/diameter/fold0-seed0.json"))
    record = read_record(path)
    assert job_for(record, "unused").variant == {"split": "slice"}
    assert compare(path, record, record, 1e-9).agrees  # one row per slice: compared slice by slice


@pytest.mark.slow  # the whole default cohort's patches
def test_a_split_slice_record_reproduces():
    from lidcbench.running.reproduce import reproduce

    path = next(COMMITTED.glob("*-split-slice-*/diameter/fold1-seed0.json"))
    assert reproduce(path).agrees
