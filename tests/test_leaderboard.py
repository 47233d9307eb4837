import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from test_records import make_record

from lidcbench.cli import main
from lidcbench.errors import RecordError
from lidcbench.reports.leaderboard import build_leaderboards
from lidcbench.reports.paper import MARK
from lidcbench.reports.regenerate import regenerate
from lidcbench.results.records import read_records, write_record


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("records")
    for fold in range(3):
        write_record(make_record("strong", fold=fold, signal=1.0), folder)
        write_record(make_record("diameter", fold=fold, signal=0.4, params={}), folder)
    return folder


@pytest.fixture()
def results(written, tmp_path):
    """A copy each test may change."""
    return Path(shutil.copytree(written, tmp_path / "results"))


def test_regenerating_from_the_same_records_gives_the_same_bytes(results, tmp_path):
    first = regenerate(results, tmp_path / "a")
    again = regenerate(results, tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in again]
    assert {p.suffix for p in first} == {".md", ".png"}
    for one, other in zip(first, again):
        assert one.read_bytes() == other.read_bytes(), one.name


def _delong_by_placements(labels, a, b):
    """DeLong's test written out from its definition (placement values, pair by pair), independent
    of lidcbench.scoring.metrics: the difference a - b, its 95% interval and the two-sided p-value."""
    def placements(scores):
        pos, neg = scores[labels == 1], scores[labels == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)

    (auc_a, v10_a, v01_a), (auc_b, v10_b, v01_b) = placements(a), placements(b)
    s10, s01 = np.cov(np.vstack([v10_a, v10_b])), np.cov(np.vstack([v01_a, v01_b]))
    m, n = len(v10_a), len(v01_a)
    se = np.sqrt((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n)
    difference = auc_a - auc_b
    z = stats.norm.ppf(0.975)
    return difference, difference - z * se, difference + z * se, 2 * stats.norm.sf(abs(difference) / se)


def test_the_page_shows_the_records_numbers_the_yardsticks_and_the_paper_marked(results, tmp_path):
    page, figure, *_, index = regenerate(results, tmp_path / "boards")
    text = page.read_text()
    nodules = [r.nodule_frame() for r in read_records(results) if r.method == "strong"]
    labels = [v for n in nodules for v in n.label]
    scores = [v for n in nodules for v in n.malignancy]
    pooled = f"{roc_auc_score(labels, scores):.3f}"
    strong_row = next(line for line in text.splitlines() if line.startswith("| strong | 0 | 0-2 |"))
    assert f"| {pooled} [" in strong_row  # pooled AUC
    diameter = "diameter: the readers' mean diameter (annotation-derived)"
    assert text.index("| strong |") < text.index(f"| {diameter} |")  # ranked by pooled AUC
    # ΔAUC vs diameter: the page's numbers equal a DeLong test computed here from the records' nodules.
    records = read_records(results)
    ours, theirs = (pd.concat([r.nodule_frame() for r in records if r.method == m]).sort_values("nodule_id")
                    for m in ("strong", "diameter"))
    difference, low, high, p_value = _delong_by_placements(ours["label"].to_numpy(), ours["malignancy"].to_numpy(),
                                                           theirs["malignancy"].to_numpy())
    assert f"| {difference:+.3f} [{low:+.3f}, {high:+.3f}], p = {p_value:.2g} |" in strong_row, strong_row
    assert "Readers, one vs the mean of the others" in text and "Constant, the training folds' mean" in text
    assert f"| MTMR-Net ({MARK}) | - | - | - | 93.5 | 93.0 | 89.4 | 0.979 |" in text
    assert f"| IB (inter-observer) ({MARK}) | 0.90 | 0.09 | 0.21 | 0.91 | 0.81 | 0.84 | 0.76 | 0.054 |" in text
    assert figure.name in text and figure.read_bytes()[:4] == b"\x89PNG"
    assert page.name in index.read_text()


def test_each_setting_gets_its_own_page_and_stale_pages_go(results, tmp_path):
    other = make_record("strong", fold=0, source_settings={"size": 32})
    path = write_record(other, results)
    boards = build_leaderboards(read_records(results))
    assert len(boards) == 2
    out = tmp_path / "boards"
    assert len(regenerate(results, out)) == 7  # per page: itself, ROC and reliability figures; an index
    path.unlink()
    regenerate(results, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in regenerate(results, out))


def test_records_of_one_method_that_disagree_are_an_error(results):
    write_record(make_record("strong", fold=4, params={"alpha": 9}), results)
    with pytest.raises(RecordError, match="disagree on parameters"):
        build_leaderboards(read_records(results))


def test_the_command_writes_pages_or_says_there_are_no_records(results, tmp_path, capsys):
    assert main(["leaderboard", "--results", str(results), "--out", str(tmp_path / "boards"), "--no-analyses"]) == 0
    printed = capsys.readouterr().out
    assert "README.md" in printed and not (tmp_path / "boards" / "analyses").exists()
    steps = [line.split("] ", 1)[1] for line in printed.splitlines() if line.startswith("[")]
    assert [step.split(":")[0].split(" (")[0] for step in steps] == ["scoring 6 records", "page 1/1"], printed
    assert main(["leaderboard", "--results", str(tmp_path / "empty"), "--out", str(tmp_path / "x")]) == 2
    assert "no result records" in capsys.readouterr().err


def test_methods_with_several_seeds_get_means_over_seeds_and_a_deterministic_one_shows_once(tmp_path, monkeypatch):
    from lidcbench.cli import main
    from lidcbench.reports.leaderboard import build_leaderboards
    from lidcbench.results.records import read_records

    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    out = tmp_path / "results"
    small = ["--diameter-min", "20", "--folds", "0,1,2,3", "--out", str(out)]  # fold 4 holds one class here
    assert main(["run", "tiny-net", "--seeds", "0-2", *small]) == 0
    assert main(["run", "diameter", "--seeds", "0,1", *small]) == 0  # deterministic: seed 0 only
    assert {r.seed for r in read_records(out) if r.method == "diameter"} == {0}
    # A record of another seed made before the method declared itself deterministic: shown once all the same.
    for record in [r for r in read_records(out) if r.method == "diameter"]:
        write_record(replace(record, seed=1), out)
    (board,) = build_leaderboards(read_records(out))
    assert [e.seed for e in board.entries if e.method == "diameter"] == [0]
    (summary,) = board.over_seeds
    entries = sorted((e for e in board.entries if e.method == "tiny-net"), key=lambda e: e.seed)
    assert summary.seeds == (0, 1, 2) and len(entries) == 3
    aucs = [e.summary["classification"]["auc"]["mean"] for e in entries]
    assert summary.metrics["auc"]["mean"] == pytest.approx(sum(aucs) / 3)
    assert summary.metrics["auc"]["std"] > 0  # the seeds do differ
    # ΔAUC: each seed's pooled AUC minus diameter's on the same nodules (scikit-learn), mean and sd over seeds.
    reference = next(e for e in board.entries if e.method == "diameter").nodules.set_index("nodule_id")
    differences = []
    for entry in entries:
        ours = entry.nodules.set_index("nodule_id")
        shared = ours.index.intersection(reference.index)
        differences.append(roc_auc_score(ours.label[shared], ours.malignancy[shared])
                           - roc_auc_score(reference.label[shared], reference.malignancy[shared]))
    assert summary.versus_reference["mean"] == pytest.approx(np.mean(differences))
    assert summary.versus_reference["std"] == pytest.approx(np.std(differences, ddof=1))

    assert main(["leaderboard", "--results", str(out), "--out", str(tmp_path / "boards")]) == 0
    page = next((tmp_path / "boards").glob("*-contours-*.md")).read_text()
    row = next(line for line in page.splitlines() if line.startswith("| tiny-net | 0,1,2 |"))
    assert row.endswith(f"| {np.mean(differences):.3f} ± {np.std(differences, ddof=1):.3f} |")
    assert "Deterministic: one run stands for every seed: diameter: the readers' mean diameter " \
           "(annotation-derived) (seed 0, records of seeds 1 not shown)" in page
    assert "No predictions are averaged over seeds" in page


def test_the_top_says_what_the_source_carries_and_which_rows_differ_from_size(results, tmp_path):
    """A row close to diameter's is named a tie, the strong row a difference, each with the p the DeLong
    test computed here gives; beside the paper's rows, a link to why they differ."""
    for fold in range(3):
        write_record(make_record("twin", fold=fold, signal=0.39, params={}), results)
    records = read_records(results)

    def p_value(method):
        ours, theirs = (pd.concat([r.nodule_frame() for r in records if r.method == m]).sort_values("nodule_id")
                        for m in (method, "diameter"))
        return _delong_by_placements(ours["label"].to_numpy(), ours["malignancy"].to_numpy(),
                                     theirs["malignancy"].to_numpy())[3]

    strong, twin = p_value("strong"), p_value("twin")
    assert strong < 0.05 < twin  # the records make one of each
    text = regenerate(results, tmp_path / "boards")[0].read_text()
    carries = next(line for line in text.splitlines() if line.startswith("- **What the source carries**"))
    assert "no CT texture" in carries
    against = next(line for line in text.splitlines() if line.startswith("- **Against size**"))
    assert "strong (ΔAUC" in against and f"p {strong:.2g}) differs from the `diameter` baseline" in against
    assert "the others do not (twin (ΔAUC" in against and f"p {twin:.2g})" in against
    # Several comparisons on one page: the line also says which survive Holm's correction.
    family = re.search(r"with Holm's correction for the (\d+) comparisons on this page, (.+?) remains? below", against)
    assert family is not None and ("strong" in family[2]) == (strong < 0.05 / int(family[1])), against
    assert "(../docs/leaderboards.md#why-these-numbers-are-not-the-papers)" in text
    assert "The paper's IB texture value, 0.054, stands against our" in text


def test_holms_correction_by_hand():
    from lidcbench.reports.leaderboard_page import holm

    # Sorted: 0.01 < 0.05/3 kept; 0.03 >= 0.05/2 stops, so 0.04 is not kept either.
    assert holm([0.01, 0.04, 0.03], 0.05) == [True, False, False]
    assert holm([0.001, 0.02, 0.04], 0.05) == [True, True, True]  # 0.001 < 0.0167, 0.02 < 0.025, 0.04 < 0.05
    assert holm([0.2], 0.05) == [False]


def test_how_these_were_made_shows_what_each_fold_chose_or_that_it_was_not_kept(results, tmp_path):
    import dataclasses

    for fold in range(3):
        chosen = {"malignancy": {"alpha": 0.01 * (fold + 1), "l1_ratio": 0.5}, "subtlety": {"alpha": 1.0,
                                                                                             "l1_ratio": 0.1}}
        write_record(dataclasses.replace(make_record("net", fold=fold), selected_params=chosen), results)
        write_record(dataclasses.replace(make_record("old", fold=fold), selected_params=None), results)
    text = regenerate(results, tmp_path / "boards")[0].read_text()
    # Each row without its last cell (warnings while fitting, which these records did not keep).
    rows = {line.split(" | ")[0][2:]: line.removesuffix(" | not kept |") + " |"
            for line in text.split("## How these were made")[1].splitlines() if line.startswith("| ")}
    assert rows["net"].endswith("| 0: alpha 0.01, l1_ratio 0.5; 1: alpha 0.02, l1_ratio 0.5; "
                                "2: alpha 0.03, l1_ratio 0.5 |"), rows["net"]
    assert rows["old"].endswith("| not kept (records made before lidcbench kept them) |")
    assert rows["strong"].endswith("| none |")
