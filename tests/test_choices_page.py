"""The evaluation-choices page: variants beside the protocol, regenerated from records, never on the leaderboard."""
from dataclasses import replace
from pathlib import Path

import pytest

from lidcbench.protocol.variants import Variant
from lidcbench.reports import paper
from lidcbench.reports.choices import FIGURE, PAGE, build_choices, choices_markdown
from lidcbench.reports.regenerate import GENERATED_MARK, regenerate
from lidcbench.results.records import read_records, write_record

RESULTS = Path(__file__).parents[1] / "results"


def _honest(method="diameter"):
    return [r for r in read_records(RESULTS) if r.method == method and r.variant is None
            and r.protocol_hash == "10894036eb"]


def _as_variant(records, variant, predict=None, drop=0):
    out = []
    for record in records:
        nodules = {"columns": record.nodules["columns"], "rows": record.nodules["rows"][drop:]}
        if predict is not None:
            columns = nodules["columns"]
            label, score = columns.index("label"), columns.index("malignancy")
            nodules = {"columns": columns, "rows": [[*row[:score], predict(row[label]), *row[score + 1:]]
                                                     for row in nodules["rows"]]}
        out.append(replace(record, variant=variant.to_record(), nodules=nodules))
    return out


def test_no_variant_records_no_page():
    assert build_choices(_honest()) is None


def test_a_split_variant_with_the_same_predictions_differs_by_nothing_paired():
    honest = _honest()
    page = build_choices(honest + _as_variant(honest, Variant(split="nodule")))
    protocol, variant = page.rows
    assert protocol.variant == "protocol" and variant.variant == "split-nodule"
    assert variant.paired and variant.versus["difference"] == 0.0
    assert variant.auc == protocol.auc and len(variant.nodules) == 1917
    assert page.paper_auc == {n: a for n, *_, a in paper.TABLE_II}["MTMR-Net"]
    text = choices_markdown(page, GENERATED_MARK)
    assert f"{protocol.auc:.3f}" in text and "+0.000" in text and "(paired)" in text
    assert "The `contours` source renders each nodule from its readers' outlines" in text  # what a leak can carry


def test_a_variant_that_inflates_is_read_as_higher_with_its_numbers():
    honest = _honest()
    # Other nodules than the protocol's (as a label rule gives): the comparison cannot be paired.
    perfect = _as_variant(honest, Variant(labels="median"), predict=lambda label: float(label), drop=20)
    page = build_choices(honest + perfect)
    row = page.rows[1]
    assert row.auc == 1.0 and not row.paired and row.versus["ci"][0] > 0
    assert len(row.nodules) == 1917 - 5 * 20
    text = choices_markdown(page, GENERATED_MARK)
    assert "higher (95% CI above 0): labels-median 1.000" in text
    assert f"{row.versus['difference']:+.3f}" in text


def test_regenerate_writes_the_page_links_it_and_keeps_variants_off_the_leaderboard(tmp_path):
    honest = _honest()
    for record in honest + _as_variant(honest, Variant(split="scan")):
        write_record(record, tmp_path / "results")
    written = regenerate(tmp_path / "results", tmp_path / "out")
    names = sorted(p.name for p in written)
    assert PAGE in names and FIGURE in names
    boards = [p for p in written if p.suffix == ".md" and p.name not in (PAGE, "README.md")]
    assert len(boards) == 1 and "split-scan" not in boards[0].read_text()  # one board: the protocol's
    assert f"]({PAGE})" in boards[0].read_text()
    first = {p.name: p.read_bytes() for p in written}
    regenerate(tmp_path / "results", tmp_path / "out")
    assert {p.name: p.read_bytes() for p in written} == first


def test_a_selection_variant_is_paired_and_lists_the_epochs_it_kept():
    honest = _honest()
    chosen = [replace(r, metrics={**r.metrics, "selection": {"rule": "best-epoch-on-test", "epoch": 1 + r.fold % 3,
                                                             "epochs": 5, "test_auc_by_epoch": [0.5] * 5}})
              for r in _as_variant(honest, Variant(selection="best-epoch-on-test"))]
    page = build_choices(honest + chosen)
    row = page.rows[1]
    assert row.variant == "selection-best-epoch-on-test" and row.paired and row.kept_together == "patient"
    assert row.chosen_epochs == tuple((fold, 1 + fold % 3, 5) for fold in range(5))
    text = choices_markdown(page, GENERATED_MARK)
    assert "the epoch with the best test AUC" in text
    assert "- diameter: fold 0 epoch 1 of 5, fold 1 epoch 2 of 5, fold 2 epoch 3 of 5" in text


def test_a_slice_split_is_scored_per_slice_and_per_nodule_per_fold():
    honest = _honest()
    sliced = []
    for record in _as_variant(honest, Variant(split="slice")):
        columns = [*record.nodules["columns"], "slice_index"]
        rows = [[*row, k] for row in record.nodules["rows"] for k in (7, 8)]  # every nodule as two equal slices
        sliced.append(replace(record, nodules={"columns": columns, "rows": rows}))
    page = build_choices(honest + sliced)
    protocol, per_slice, per_nodule = page.rows
    assert (per_slice.unit, len(per_slice.nodules)) == ("slice", 2 * 1917)
    assert (per_nodule.unit, len(per_nodule.nodules)) == ("nodule, per fold", 1917)
    assert per_slice.auc == pytest.approx(protocol.auc) and per_nodule.auc == pytest.approx(protocol.auc)
    assert not per_slice.paired and per_nodule.paired  # here every nodule sits in one fold: the same nodules
    text = choices_markdown(page, GENERATED_MARK)
    assert "| slice | 3834 |" in text and "split-slice (per slice)" in text and "scored twice" in text


def test_an_annotation_split_is_scored_per_annotation_and_per_nodule_with_the_protocols_label():
    honest = _honest()
    outlined = []
    for record in _as_variant(honest, Variant(split="annotation")):
        columns = record.nodules["columns"]
        at = {name: columns.index(name) for name in ("nodule_id", "label")}
        rows = [[*row[:at["nodule_id"]], f"{row[at['nodule_id']]}-a{reader}", *row[at["nodule_id"] + 1:],
                 row[at["nodule_id"]], row[at["label"]]] for row in record.nodules["rows"] for reader in (1, 2)]
        outlined.append(replace(record, nodules={"columns": [*columns, "nodule_of", "nodule_label"], "rows": rows}))
    page = build_choices(honest + outlined)
    protocol, per_annotation, per_nodule = page.rows
    assert (per_annotation.unit, len(per_annotation.nodules)) == ("annotation", 2 * 1917)
    assert (per_nodule.unit, len(per_nodule.nodules)) == ("nodule, per fold", 1917)
    assert per_nodule.auc == pytest.approx(protocol.auc) and per_nodule.paired
    assert "split-annotation (per annotation)" in choices_markdown(page, GENERATED_MARK)


def _shifted(record, by: float):
    """The record with every score moved by the same amount: its own fold's ranking, and so its AUC, unchanged."""
    columns = record.nodules["columns"]
    score = columns.index("malignancy")
    rows = [[*row[:score], row[score] + by, *row[score + 1:]] for row in record.nodules["rows"]]
    return replace(record, nodules={"columns": columns, "rows": rows})


def test_a_fold_on_its_own_scale_keeps_the_mean_of_folds_and_lowers_the_pooled_auc():
    honest = _honest("lasso")
    chosen = [replace(_shifted(r, 0.5 if r.fold == 0 else 0.0), metrics={
        **r.metrics, "selection": {"rule": "best-epoch-on-test", "epoch": 5, "epochs": 5, "test_auc_by_epoch": [0.5] * 5}})
        for r in _as_variant(honest, Variant(selection="best-epoch-on-test"))]
    protocol, row = build_choices(honest + chosen).rows
    assert row.fold_aucs == pytest.approx(protocol.fold_aucs) and len(row.fold_aucs) == 5
    assert row.auc < protocol.auc
    text = choices_markdown(build_choices(honest + chosen), GENERATED_MARK)
    mean = sum(protocol.fold_aucs) / 5
    assert (f"the mean of folds' AUC is {mean:.3f} against {mean:.3f} under the protocol (+0.000), the pooled AUC "
            f"{row.auc:.3f} against {protocol.auc:.3f} ({row.auc - protocol.auc:+.3f})") in text
    assert f"| {mean:.3f} ± " in text


def test_a_warning_every_fold_gave_is_listed_once_with_its_folds():
    from lidcbench.reports.leaderboard_page import fold_warnings
    honest = _honest()
    warned = [replace(r, provenance=replace(r.provenance, warnings=["no weights"] if r.fold != 2 else ["diverged"]))
              for r in honest]
    assert fold_warnings(warned) == ["folds 0, 1, 3, 4: no weights", "fold 2: diverged"]
    assert fold_warnings(honest) == []
