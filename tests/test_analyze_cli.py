"""`lidcbench analyze` and the analyses `lidcbench leaderboard` regenerates, on `tiny` records of a small protocol."""
import shutil
from pathlib import Path

import pytest
from synthetic_nodules import nodule_table, slice_predictions

from lidcbench.cli import main
from lidcbench.protocol.attributes import ATTRIBUTES
from lidcbench.protocol.rules import Protocol
from lidcbench.reports.analysis.inputs import method_inputs
from lidcbench.reports.analysis.write import MARK
from lidcbench.results.records import new_record, read_records, write_record
from lidcbench.scoring.score import nodule_predictions, score_fold

SMALL = ["--diameter-min", "20"]  # ~150 nodules
SMALL_PROTOCOL = Protocol(diameter_min_mm=20.0)


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    """All five folds of the `tiny` method, which predicts the eight attributes."""
    folder = tmp_path_factory.mktemp("analyze")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIDCBENCH_CACHE", str(folder / "cache"))
        patch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
        assert main(["run", "tiny", "--folds", "all", "--out", str(folder / "results"), *SMALL]) == 0
    return folder / "results"


def synthetic_records(folder: Path, method: str, folds, attributes: bool) -> Path:
    for fold in folds:
        table = nodule_table(30, seed=fold, prefix=f"F{fold}-")
        predictions = slice_predictions(table, seed=0, attributes=attributes)
        write_record(new_record(
            method=method, fold=fold, seed=0, profile="default", method_params={}, source="contours",
            source_settings={"size": 64}, protocol=SMALL_PROTOCOL, folds_version=1,
            nodules=nodule_predictions(predictions, table), metrics=score_fold(predictions, table, table),
            device="cpu", wall_time_s=1.0), folder)
    return folder


def test_a_methods_inputs_are_its_predictions_on_the_rating_scale_with_its_labels(tiny_results):
    records = read_records(tiny_results)
    inputs = method_inputs(records, "tiny")
    frames = {r.fold: r.nodule_frame().set_index("nodule_id") for r in records}
    assert inputs.stem == "tiny" and inputs.folds == [0, 1, 2, 3, 4]
    assert len(inputs.table) == sum(len(f) for f in frames.values())
    row = inputs.table.iloc[0]
    predicted = frames[row["fold"]].loc[row["nodule_id"]]
    assert row["label"] == predicted["label"]
    for attribute in ATTRIBUTES:
        assert row[attribute.name] == pytest.approx(attribute.low + predicted[attribute.name]
                                                    * (attribute.high - attribute.low))


def test_analyze_a_methods_records(tiny_results, tmp_path, capsys):
    out = tmp_path / "analyses"
    assert main(["analyze", "rfe", "--method", "tiny", "--results", str(tiny_results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tiny's predicted attributes" in printed and "Spearman" in printed
    page = (out / "rfe-tiny.md").read_text()
    assert page.startswith(MARK) and "| Lob | " in page and "(paper)" in page
    assert (out / "rfe-tiny.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["analyze", "tsne", "--method", "tiny", "--results", str(tiny_results), "--out", str(out)]) == 0
    assert "neighbour agreement" in capsys.readouterr().out
    assert (out / "tsne-tiny.png").read_bytes()[:4] == b"\x89PNG"
    assert "rfe-tiny.md" in (out / "tsne-tiny.md").read_text()


def test_analyze_the_readers_of_a_protocol(tmp_path, capsys):
    out = tmp_path / "analyses"
    assert main(["analyze", "rfe", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "readers' mean ratings" in printed
    (page,) = out.glob("rfe-readers-*.md")  # not the default protocol: its hash is in the name
    importances = [float(line.split("|")[2].split("±")[0]) for line in page.read_text().splitlines()
                   if line.startswith("| ") and line.split("|")[1].strip() in {a.short for a in ATTRIBUTES}]
    assert len(importances) == 8 and sum(importances) == pytest.approx(1.0, abs=0.01)


def test_bad_analysis_input_is_a_named_error(tiny_results, tmp_path, capsys):
    assert main(["analyze", "rfe", "--method", "nope", "--results", str(tiny_results), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "no result records of method 'nope'" in error and "tiny" in error
    no_attributes = synthetic_records(tmp_path / "size-only", "sizeonly", (0, 1), attributes=False)
    assert main(["analyze", "rfe", "--method", "sizeonly", "--results", str(no_attributes)]) == 2
    assert "method 'sizeonly' predicts no attributes" in capsys.readouterr().err
    one_fold = synthetic_records(tmp_path / "one-fold", "onefold", (0,), attributes=True)
    assert main(["analyze", "tsne", "--method", "onefold", "--results", str(one_fold)]) == 2
    assert "at least two folds are needed" in capsys.readouterr().err
    assert main(["analyze", "rfe", "--method", "tiny", "--results", str(tiny_results), *SMALL]) == 2
    assert "a method's records carry their own protocol" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.md"))


def test_the_leaderboard_regenerates_the_analyses_and_keeps_them(tiny_results, tmp_path):
    results = Path(shutil.copytree(tiny_results, tmp_path / "results"))
    synthetic_records(results, "sizeonly", (0, 1), attributes=False)  # predicts no attributes: no analysis
    boards = tmp_path / "boards"
    (boards / "analyses").mkdir(parents=True)
    (boards / "analyses" / "rfe-gone.md").write_text(MARK + "\n# an analysis whose records are gone\n")
    (boards / "analyses" / "notes.md").write_text("# kept: not generated\n")
    assert main(["leaderboard", "--results", str(results), "--out", str(boards)]) == 0
    analyses = boards / "analyses"
    protocol = read_records(results)[0].protocol_hash
    names = sorted(p.name for p in analyses.iterdir())
    assert names == sorted(["README.md", "notes.md", *(f"{kind}-{stem}.{ext}" for kind in ("rfe", "tsne")
                                                      for stem in ("tiny", f"readers-{protocol}")
                                                      for ext in ("md", "png"))])
    before = {p.name: p.read_bytes() for p in analyses.iterdir()}
    assert main(["leaderboard", "--results", str(results), "--out", str(boards)]) == 0  # stale cleanup spares it
    assert {p.name: p.read_bytes() for p in analyses.iterdir()} == before
    assert list(boards.glob("*.md")) and "tiny" in (analyses / "README.md").read_text()
