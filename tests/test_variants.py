"""Evaluation variants: their own frozen splits, label rules and hashes, and never on the leaderboard."""
from dataclasses import replace
from pathlib import Path

import pytest

from lidcbench.cli import main
from lidcbench.errors import ProtocolError, RecordError
from lidcbench.protocol.cohort import load_cohort
from lidcbench.protocol.rules import Protocol
from lidcbench.protocol.variants import LABELS, SELECTIONS, SPLITS, Variant, split_path
from lidcbench.reports.leaderboard import build_leaderboards
from lidcbench.results.records import read_record, read_records
from lidcbench.running.fold import FoldJob, plan, record_location

COMMITTED = Path(__file__).parents[1] / "results" / "10894036eb-contours-4841c6dd-default" / "diameter"


def test_the_default_protocol_keeps_its_hash_and_its_records_dict():
    committed = read_record(COMMITTED / "fold0-seed0.json")
    assert Protocol().hash == committed.protocol_hash
    assert Protocol().to_dict() == committed.protocol
    assert Protocol(**committed.protocol) == Protocol()
    assert Variant().protocol() == Protocol() and Variant().to_record() is None


def test_every_variant_has_its_own_hash_and_name():
    variants = [Variant(split=s) for s in SPLITS[1:]] + [Variant(labels=name) for name in list(LABELS)[1:]] \
        + [Variant(selection=name) for name in SELECTIONS[1:]]
    assert len({v.hash for v in variants}) == len(variants) == len({v.name for v in variants})
    assert all(not v.is_default and v.to_record()["hash"] == v.hash for v in variants)
    assert all(Variant.from_record(v.to_record()) == v == Variant(**v.choices()) for v in variants)


def test_one_variant_at_a_time():
    with pytest.raises(ProtocolError, match="one variant at a time"):
        Variant(split="nodule", labels="median")
    with pytest.raises(ProtocolError):
        Variant(split="slice-of-cake")
    with pytest.raises(ProtocolError, match="leave out the protocol options"):
        Variant(labels="median").protocol(Protocol(min_readers=2))


def test_split_files_cover_the_cohort_stratified_and_group_what_they_say(cohort):
    for split, unit, crossing in (("patient", "patient_id", False), ("scan", "scan_id", False),
                                  ("nodule", "patient_id", True)):
        folds = Variant(split=split).folds()
        table = cohort.table.assign(fold=folds.assign(cohort))
        assert set(table["fold"]) == set(range(5))
        assert (table.groupby(unit)["fold"].nunique() > 1).any() == crossing
        assert (table.groupby("fold")["label"].mean() - table["label"].mean()).abs().max() <= 0.03
    assert (cohort.table.assign(fold=Variant(split="nodule").folds().assign(cohort))
            .groupby("nodule_id")["fold"].nunique() == 1).all()
    assert split_path("nodule").read_bytes() != split_path("scan").read_bytes()


def test_label_rules_label_as_documented():
    any4 = load_cohort(Variant(labels="any-reader-4").protocol()).table
    assert (any4["label"] == any4["readers_malignancy"].map(lambda r: int(max(r) >= 4))).all()
    assert len(any4) > len(load_cohort(Protocol()).table)  # nothing left out as "exactly 3"
    mnist = load_cohort(Variant(labels="nodulemnist3d").protocol()).table
    assert (mnist["malignancy"] == mnist["malignancy"].round()).all() and not (mnist["malignancy"] == 3).any()
    assert (mnist["label"] == (mnist["malignancy"] >= 4)).all()
    three = load_cohort(Variant(labels="readers-3").protocol()).table
    assert three["n_readers"].min() == 3


def test_a_variants_records_live_in_their_own_folder():
    job = FoldJob(method="diameter", fold=0, variant={"split": "nodule"})
    assert f"split-nodule-{Variant(split='nodule').hash}" in str(record_location(plan(job)))
    assert "split-" not in str(record_location(plan(FoldJob(method="diameter", fold=0))))


def test_the_harness_refuses_a_variant_row_on_the_leaderboard():
    honest = read_records(COMMITTED.parents[1])
    honest = [r for r in honest if r.method == "diameter" and r.profile == "default" and r.variant is None]
    assert build_leaderboards(honest)  # the protocol's own records make a board
    for leaky in (Variant(split="nodule"), Variant(selection="best-epoch-on-test")):
        variant = [replace(r, variant=leaky.to_record()) for r in honest]
        with pytest.raises(RecordError, match="evaluation variant"):
            build_leaderboards(honest + variant)


def test_the_run_command_refuses_mixed_variants_before_any_work(tmp_path, capsys):
    assert main(["run", "diameter", "--split", "nodule", "--labels", "median", "--out", str(tmp_path)]) == 2
    assert main(["run", "diameter", "--labels", "median", "--min-readers", "2", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("error:") == 2
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_split_variant_runs_from_the_cli_and_records_its_variant(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    out = tmp_path / "results"
    assert main(["run", "diameter", "--folds", "0", "--split", "nodule", "--out", str(out)]) == 0
    (record,) = read_records(out)
    assert record.variant["name"] == "split-nodule" and record.protocol_hash == Protocol().hash
    fold0 = {k for k, f in Variant(split="nodule").folds().nodules.items() if f == 0}
    assert set(record.nodule_frame()["nodule_id"]) == fold0


def test_the_run_commands_choices_are_the_variants():
    from lidcbench.cli import build_parser

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    choices = {a.dest: tuple(a.choices) for a in run._actions if a.dest in ("split", "labels")}
    assert choices == {"split": SPLITS, "labels": tuple(LABELS)}
