"""The page "What evaluation choices do to the AUC": each evaluation variant beside the protocol.

Built from the records of evaluation variants (:mod:`lidcbench.protocol.variants`)
and the protocol's own records of the same method, profile, seed and pixels,
by :mod:`lidcbench.reports.regenerate`; the same records give the same bytes.
For each method and variant: the pooled AUC with its bootstrap interval, the
difference from the protocol's AUC with its interval (paired DeLong where the
same nodules carry the same labels, as under a split variant; unpaired
otherwise, see :func:`lidcbench.scoring.metrics.unpaired_difference`), what
the folds keep together, the unit scored and the number of samples. A figure
puts every AUC on one axis with the paper's reported MTMR-Net AUC and our
MTMR-Net's under the protocol.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lidcbench.protocol.rules import DEFAULT
from lidcbench.protocol.variants import LABEL_SOURCES, Variant
from lidcbench.results.records import RunRecord
from lidcbench.scoring.metrics import CONFIDENCE, N_RESAMPLES, classification_metrics, unpaired_difference
from lidcbench.scoring.score import compare, pooled_classification

from . import paper
from .figures import new_figure, save_png
from .leaderboard_page import fold_warnings

PAGE = "evaluation-choices.md"
FIGURE = "evaluation-choices-auc.png"
PAPER_METHOD = "MTMR-Net"  # the paper's row whose AUC the figure marks
OUR_PAPER_METHOD = "mtmr"  # our implementation of it, whose protocol AUC the figure marks
WHAT = {
    "protocol": "the protocol: folds grouped by patient, readers' mean rating",
    "split-scan": "folds grouped by CT scan (a patient's two scans may sit in different folds)",
    "split-nodule": "nodules split at random, stratified by label (a patient's nodules on both sides)",
    "split-slice": "slices split at random, stratified by label (a nodule's neighbouring slices on both sides)",
    "split-annotation": "each reader's annotation a sample, its own rating the label, split at random (one "
                        "nodule's outlines on both sides)",
    "labels-median": "label: readers' median rating (< 3 benign, > 3 malignant)",
    "labels-readers-2": "label as the protocol, nodules marked by at least 2 readers",
    "labels-readers-3": "label as the protocol, nodules marked by at least 3 readers",
    "labels-any-reader-4": "label: malignant when any reader rates 4 or 5, benign otherwise",
    "labels-nodulemnist3d": "label: NoduleMNIST3D's rule, median level 1-2 benign, 4-5 malignant, 3 left out",
    "selection-best-epoch-on-test": "model: per fold, the epoch with the best test AUC (chosen by the runner)",
}


# What a leak across the split can carry on each source's pixels.
WHAT_LEAKS = {
    "contours": "The `contours` source renders each nodule from its readers' outlines: its shape and size, with "
                "noise, and no CT texture. A split that leaks can hand a network a nodule's shape from the other "
                "side (a neighbouring slice, another reader's outline), never its texture. On the `ct` source "
                "neighbouring slices share texture too; rows on `contours` do not say what the same variants do "
                "there.",
}


SAMPLES_BY_UNIT = (
    "Samples: what is scored. Per nodule: one prediction per nodule, the mean over its slices. `split-slice` is "
    "scored twice: per slice (each test slice a sample, as papers that split slices score it) and per nodule, "
    "per fold (a nodule whose slices sit in several test folds is a sample in each, its score the mean of that "
    "fold's test slices). `split-annotation` is scored per annotation (each reader's outline a sample with that "
    "reader's rating as label, as its users score it) and per nodule, per fold (the mean over a nodule's test "
    "annotations in that fold, labelled by the protocol's rule; nodules the protocol leaves out are not scored "
    "this way). These intervals resample slices, annotations or (fold, nodule) pairs as if independent, so they "
    "are narrower than the truth; their difference from the protocol is unpaired (other samples).")


@dataclass(frozen=True)
class Row:
    """One method under one variant (or the protocol), pooled over its folds."""

    method: str
    profile: str
    seed: int
    variant: str  # Variant.name; "protocol" for the protocol's own records
    kept_together: str  # what the folds keep together
    folds: tuple[int, ...]
    nodules: pd.DataFrame
    pooled: dict[str, Any]
    versus: dict[str, Any] | None = None  # difference from the protocol's row
    paired: bool | None = None
    chosen_epochs: tuple[tuple[int, int, int], ...] = ()  # best-epoch-on-test: (fold, epoch kept, epochs)
    unit: str = "nodule"  # what one sample is: nodule, slice, or nodule per fold (split-slice)
    source: str = "contours"  # the pixels' source
    warned: tuple[str, ...] = ()  # "fold F: ..." for each record whose fit warned (provenance.warnings)

    @property
    def auc(self) -> float | None:
        return self.pooled["auc"]

    @property
    def fold_aucs(self) -> list[float]:
        """Each fold's own AUC over its test samples, the figure most papers average."""
        aucs = [classification_metrics(samples["label"], samples["malignancy"])["auc"]
                for _, samples in self.nodules.groupby("fold", sort=True)]
        return [auc for auc in aucs if auc is not None]


@dataclass(frozen=True)
class ChoicesPage:
    rows: tuple[Row, ...]  # by method, profile, seed; the protocol's row first
    paper_auc: float | None
    honest_paper_method: Row | None  # our MTMR-Net under the protocol, from its records


def _key(record: RunRecord) -> tuple:
    return (record.method, record.profile, record.seed, record.source,
            tuple(sorted((k, str(v)) for k, v in record.source_settings.items())))


def _rows(records: list[RunRecord]) -> list[Row]:
    """One row; two for split-slice records (one row per test slice): per slice, and per nodule as its
    fold's test slices' mean (a nodule split over several folds is a sample in each)."""
    first = records[0]
    variant = Variant.from_record(first.variant)
    nodules = pd.concat([r.nodule_frame().assign(fold=r.fold) for r in records], ignore_index=True)
    chosen = tuple((r.fold, r.metrics["selection"]["epoch"], r.metrics["selection"]["epochs"])
                   for r in sorted(records, key=lambda r: r.fold) if "selection" in r.metrics)
    folds = tuple(sorted(r.fold for r in records))
    warned = tuple(fold_warnings(records))

    def row(samples: pd.DataFrame, unit: str) -> Row:
        return Row(first.method, first.profile, first.seed, variant.name, variant.unit, folds, samples,
                   pooled_classification(samples), chosen_epochs=chosen, unit=unit, warned=warned,
                   source=first.source)

    if "slice_index" in nodules.columns:
        per_nodule = nodules.groupby(["fold", "nodule_id"], as_index=False, sort=True).agg(
            label=("label", "first"), diameter_mm=("diameter_mm", "first"), malignancy=("malignancy", "mean"))
        return [row(nodules, "slice"), row(per_nodule, "nodule, per fold")]
    if "nodule_of" in nodules.columns:  # split-annotation: per physical nodule, its protocol label
        labelled = nodules[nodules["nodule_label"].notna()]
        per_nodule = labelled.groupby(["fold", "nodule_of"], as_index=False, sort=True).agg(
            label=("nodule_label", "first"), diameter_mm=("diameter_mm", "mean"), malignancy=("malignancy", "mean"))
        per_nodule = per_nodule.rename(columns={"nodule_of": "nodule_id"}).astype({"label": int})
        return [row(nodules, "annotation"), row(per_nodule, "nodule, per fold")]
    return [row(nodules, "nodule")]


def _row(records: list[RunRecord]) -> Row:
    return _rows(records)[0]


def _versus(row: Row, honest: Row) -> tuple[dict[str, Any] | None, bool]:
    """Paired where both score the same nodules with the same labels (a split variant); else unpaired."""
    columns = ["nodule_id", "label", "malignancy"]
    ours, theirs = row.nodules[columns], honest.nodules[columns]
    same = set(ours["nodule_id"]) == set(theirs["nodule_id"]) and ours["nodule_id"].is_unique
    if same and (ours.set_index("nodule_id")["label"].sort_index()
                 == theirs.set_index("nodule_id")["label"].sort_index()).all():
        return compare(ours, theirs), True
    return unpaired_difference(ours["label"], ours["malignancy"], theirs["label"], theirs["malignancy"]), False


def build_choices(records: list[RunRecord]) -> ChoicesPage | None:
    """The page's rows from all records (None without variant records)."""
    variants = [r for r in records if r.variant is not None]
    if not variants:
        return None
    honest_records = [r for r in records if r.variant is None and r.protocol_hash == DEFAULT.hash]
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.board, r.method, r.profile, r.seed, r.fold)):
        if record.variant is not None or record.protocol_hash == DEFAULT.hash:
            groups[(*_key(record), record.board)].append(record)
    wanted = {_key(r) for r in variants}
    by_method: dict[tuple, list[Row]] = defaultdict(list)
    for key in sorted(groups):
        if key[:-1] in wanted:
            by_method[key[:-1]] += _rows(groups[key])
    rows = []
    order = list(WHAT)
    for key in sorted(by_method):
        method_rows = sorted(by_method[key], key=lambda r: order.index(r.variant) if r.variant in order else 99)
        honest = next((r for r in method_rows if r.variant == "protocol"), None)
        for row in method_rows:
            if honest is not None and row is not honest and row.auc is not None and honest.auc is not None:
                versus, paired = _versus(row, honest)
                row = Row(**{**row.__dict__, "versus": versus, "paired": paired})
            rows.append(row)
    ours = sorted((r for r in honest_records if r.method == OUR_PAPER_METHOD and r.source == "contours"),
                  key=lambda r: (r.setting, r.seed, r.fold))
    honest_ours = _row([r for r in ours if r.setting == ours[0].setting and r.seed == ours[0].seed]) if ours else None
    reported = next((auc for name, *_, auc in paper.TABLE_II if name == PAPER_METHOD), None)
    return ChoicesPage(tuple(rows), reported, honest_ours)


def _ci(values: list[float] | None, sign: bool = False) -> str:
    if not values:
        return ""
    form = "+.3f" if sign else ".3f"
    return f" [{values[0]:{form}}, {values[1]:{form}}]"


def _difference(row: Row) -> str:
    versus = row.versus
    if row.variant == "protocol":
        return "(reference)"
    if versus is None or versus.get("difference") is None:
        return "-"
    how = "paired" if row.paired else "unpaired"
    return f"{versus['difference']:+.3f}{_ci(versus.get('ci'), sign=True)} ({how})"


def _fold_mean(row: Row) -> str:
    aucs = row.fold_aucs
    return f"{np.mean(aucs):.3f} ± {np.std(aucs, ddof=1):.3f}" if len(aucs) > 1 else "-"


def _label(row: Row) -> str:
    return row.method if row.profile == "default" else f"{row.method} ({row.profile})"


def _scored(row: Row) -> str:
    """The variant's name, with the unit scored where it is not one prediction per nodule."""
    return row.variant if row.unit == "nodule" else f"{row.variant} (per {row.unit})"


def _verdict(row: Row) -> str:
    ci = (row.versus or {}).get("ci")
    if not ci:
        return "not estimable"
    if ci[0] > 0:
        return "higher (95% CI above 0)"
    if ci[1] < 0:
        return "lower (95% CI below 0)"
    return "no measurable change (95% CI holds 0)"


def _selection_reading(page: ChoicesPage) -> list[str]:
    """Where a fold keeps its best test epoch: its own AUC can only rise, while the pooled AUC need not."""
    lines = []
    for row in page.rows:
        honest = next((r for r in page.rows if r.variant == "protocol"
                       and (r.method, r.profile, r.seed) == (row.method, row.profile, row.seed)), None)
        if not row.chosen_epochs or honest is None or len(row.fold_aucs) != len(honest.fold_aucs):
            continue
        ours, theirs = np.mean(row.fold_aucs), np.mean(honest.fold_aucs)
        lines.append(f"- **{_label(row)}**, {row.variant}: the mean of folds' AUC is {ours:.3f} against "
                     f"{theirs:.3f} under the protocol ({ours - theirs:+.3f}), the pooled AUC {row.auc:.3f} against "
                     f"{honest.auc:.3f} ({row.auc - honest.auc:+.3f}). Each fold keeps its best test epoch, so no "
                     "fold's own AUC falls; the pooled AUC ranks one fold's scores against another's, made by "
                     "models kept at different epochs.")
    return lines


def _reading(page: ChoicesPage) -> list[str]:
    """Plain words, written from the measured numbers."""
    lines = []
    for method in dict.fromkeys((r.method, r.profile, r.seed) for r in page.rows):
        rows = [r for r in page.rows if (r.method, r.profile, r.seed) == method]
        honest = next((r for r in rows if r.variant == "protocol"), None)
        others = [r for r in rows if r.variant != "protocol" and r.versus]
        if honest is None or not others:
            continue
        by_verdict: dict[str, list[str]] = defaultdict(list)
        for row in others:
            by_verdict[_verdict(row)].append(f"{_scored(row)} {row.auc:.3f} ({row.versus['difference']:+.3f})")
        parts = [f"{verdict}: {', '.join(names)}" for verdict, names in by_verdict.items()]
        lines.append(f"- **{_label(honest)}** scores {honest.auc:.3f} under the protocol; "
                     + "; ".join(parts) + ".")
    lines += _selection_reading(page)
    aucs = [r.auc for r in page.rows if r.auc is not None]
    if aucs and page.paper_auc is not None:
        best = max(page.rows, key=lambda r: r.auc or 0.0)
        lines.append(f"- The highest AUC on this page is {best.auc:.3f} ({_label(best)}, {_scored(best)}); the paper "
                     f"reports {page.paper_auc:.3f} for {PAPER_METHOD}"
                     + (f", and our {PAPER_METHOD} scores {page.honest_paper_method.auc:.3f} under the protocol"
                        if page.honest_paper_method is not None else "") + ".")
    return lines


def choices_markdown(page: ChoicesPage, mark: str) -> str:
    headers = ["Method", "Variant", "What changes", "Folds keep together", "Unit scored", "Samples", "Folds",
               "Pooled AUC [95% CI] ↑", "Δ vs protocol [95% CI]", "Mean of folds' AUC ± SD"]
    rows = [[_label(r), r.variant, WHAT.get(r.variant, r.variant), r.kept_together, r.unit,
             str(len(r.nodules)), ",".join(map(str, r.folds)),
             "-" if r.auc is None else f"{r.auc:.3f}{_ci(r.pooled['auc_ci'])}", _difference(r), _fold_mean(r)]
            for r in page.rows]
    table = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
             *("| " + " | ".join(row) + " |" for row in rows)]
    sources = [f"- `labels-{name}`: {text}." for name, text in LABEL_SOURCES.items()]
    epochs = [f"- {_label(r)}: " + ", ".join(f"fold {fold} epoch {epoch} of {total}" for fold, epoch, total
                                            in r.chosen_epochs) + "." for r in page.rows if r.chosen_epochs]
    warned = [f"- {_label(r)}, {r.variant}: " + "; ".join(r.warned).rstrip(".") + "." for r in page.rows
              if r.warned and r.unit in ("nodule", "slice", "annotation")]  # once per variant, not per unit
    honest = page.honest_paper_method
    lines = [
        mark, "# What evaluation choices do to the AUC", "",
        f"{paper.SOURCE} reports an AUC of {page.paper_auc:.3f} for {PAPER_METHOD} (Table II, its own cohort, "
        "folds made \"at random\" without saying of what)"
        + (f"; our {PAPER_METHOD} scores {honest.auc:.3f} under the protocol (pooled, its records)" if honest else "")
        + ". Each row below runs the same method on the same pixels under one evaluation choice that papers make "
        "differently; the protocol's row is the reference. Variants live only on this page, never on the "
        "leaderboard; `lidcbench run METHOD --folds all --split nodule` (or `--labels median`, ...) makes them.", "",
        "## What the numbers say", "", *_reading(page), "",
        *(f"{WHAT_LEAKS[source]}\n" for source in sorted({r.source for r in page.rows}) if source in WHAT_LEAKS),
        "## Every variant", "",
        f"Pooled AUC: all test nodules of the folds at once, {CONFIDENCE:.0%} percentile bootstrap interval over "
        f"nodules ({N_RESAMPLES} seeded resamples). Δ vs protocol: the variant's AUC minus the protocol's for the "
        "same method, profile and seed. *Paired*: both score the same nodules with the same labels (split "
        "variants), DeLong's paired test. *Unpaired*: a label variant scores other nodules or other labels, so the "
        "two DeLong variances are added as if independent; the two sets share most nodules, so this interval is "
        "wider than the truth and errs towards no difference. Mean of folds' AUC: each fold's AUC over its own "
        "test samples, averaged over the folds with their standard deviation, as most papers report it; the pooled "
        "AUC also asks that scores from different folds' models rank against each other. "
        + (SAMPLES_BY_UNIT if any(r.unit != "nodule" for r in page.rows) else
           "Samples: nodules scored; every variant here scores one prediction per nodule."), "",
        *table, "",
        *(["Where the label rules come from:", "", *sources, ""] if sources else []),
        *(["Epochs kept by `selection-best-epoch-on-test` (each fold's every epoch's test AUC is in its record, "
           "`metrics.selection`):", "", *epochs, ""] if epochs else []),
        *(["Warnings the methods' fits gave (kept in their records, `provenance.warnings`):", "", *warned, ""]
          if warned else []),
        f"![Each variant's pooled AUC on one axis]({FIGURE})", "",
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_choices_figure(page: ChoicesPage, path: Path) -> None:
    """Every row's pooled AUC and interval on one axis, with the paper's reported and our protocol's MTMR-Net."""
    rows = [r for r in page.rows if r.auc is not None]
    figure = new_figure(7, 0.3 * len(rows) + 2.0)
    axes = figure.subplots()
    for index, row in enumerate(reversed(rows)):
        low, high = row.pooled["auc_ci"] or (row.auc, row.auc)
        colour = "black" if row.variant == "protocol" else "tab:blue"
        axes.errorbar(row.auc, index, xerr=[[row.auc - low], [high - row.auc]], fmt="o", color=colour,
                      markersize=4, capsize=2, linewidth=1)
    axes.set_yticks(range(len(rows)), [f"{_label(r)}: {_scored(r)}" for r in reversed(rows)], fontsize=7)
    if page.paper_auc is not None:
        axes.axvline(page.paper_auc, color="tab:red", linestyle="--", linewidth=1,
                     label=f"{PAPER_METHOD} as reported ({page.paper_auc:.3f})")
    if page.honest_paper_method is not None:
        axes.axvline(page.honest_paper_method.auc, color="grey", linestyle=":", linewidth=1,
                     label=f"our {PAPER_METHOD}, protocol ({page.honest_paper_method.auc:.3f})")
    axes.set(xlabel="pooled AUC (95% CI)", title="What evaluation choices do to the AUC", ylim=(-2, len(rows) - 0.5))
    axes.legend(loc="lower center", ncol=2, fontsize=7)  # in the empty band below the rows
    save_png(figure, path)
