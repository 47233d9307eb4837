"""The leaderboard page's reader comparison, calibration and galleries: Markdown and figures.

``board`` is a :class:`lidcbench.reports.leaderboard.Leaderboard` (entries with pooled
per-nodule predictions, and ``readers``, its :class:`.comparison.ReaderComparison`).
Every figure goes through :mod:`lidcbench.reports.figures`, so the same records give
the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lidcbench.errors import LidcbenchError
from lidcbench.protocol.attributes import ATTRIBUTES
from lidcbench.scoring.metrics import CONFIDENCE, N_RESAMPLES, THRESHOLD
from lidcbench.scoring.readers.calibration import DESCRIPTION, calibration
from lidcbench.scoring.readers.comparison import OPERATING_POINTS

from .figures import new_figure, save_png
from .gallery import PER_KIND, gallery_from_patches, most_confident_mistakes, source_patches, wrong_everywhere

CALIBRATION_HEADERS = ["Brier ↓", "ECE ↓"]
WRONG_LISTED = 40  # nodules listed by id under the galleries; the count is always given


def _number(value, digits: int, scale: float = 1.0, sign: bool = False) -> str:
    return "-" if value is None else f"{value * scale:{'+' if sign else ''}.{digits}f}"


def _with_ci(value, ci, digits: int, scale: float = 1.0, sign: bool = False) -> str:
    text = _number(value, digits, scale, sign)
    if value is None or ci is None:
        return text
    return f"{text} [{_number(ci[0], digits, scale, sign)}, {_number(ci[1], digits, scale, sign)}]"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _entry_name(entry) -> str:
    return f"{entry.label}, seed {entry.seed}"


def calibration_cells(entry) -> list[str]:
    """Brier score and ECE of an entry's pooled test nodules (per-nodule labels), for the main table."""
    result = calibration(entry.nodules["label"], entry.nodules["malignancy"])
    return [_number(result["brier"], 3), _number(result["ece"], 3)]


def calibration_note() -> str:
    return (f"Brier: mean squared difference between probability and label; ECE (expected calibration error): "
            f"over {DESCRIPTION}, the nodule-weighted mean gap between the mean probability and the share of "
            "malignant nodules; both on the pooled test nodules, lower is better (↓). ")


def _rates(rates: dict) -> list[str]:
    return [_with_ci(rates[name]["value"], rates[name]["ci"], 1, 100)
            for name in ("sensitivity", "specificity", "accuracy")]


def reader_section(board) -> list[str]:
    """One radiologist against the others: the readers' rows and every method on the same pairs."""
    comparison = board.readers
    lines = ["## One radiologist against the others", ""]
    if comparison is None or comparison.unavailable:
        reason = "no comparison was made" if comparison is None else comparison.unavailable
        return [*lines, f"Not available for this page: {reason}.", ""]
    lines += [
        f"For every test nodule with two or more readers, each reader in turn is scored against the label the "
        f"*other* readers give (their mean malignancy: below 3 benign, above 3 malignant; {comparison.left_out} "
        f"pairs whose other readers average exactly 3 are left out): {comparison.pairs} (nodule, reader) pairs "
        f"on {comparison.nodules} nodules of the same test folds as the methods. A reader's own rating (1-5) is "
        f"its score. LIDC does not say which radiologist drew which annotation across scans, so \"a "
        "radiologist\" here is one reader of each nodule, not one person. Every method is scored against the "
        "same labels, with its nodule probability for each pair, so the method and the radiologist meet "
        f"identical targets. Intervals: {CONFIDENCE:.0%} percentile bootstrap resampling nodules (all pairs of "
        f"a nodule drawn together, {N_RESAMPLES} seeded resamples). ΔAUC: the method's AUC minus the readers' "
        "on the same resamples; positive means the method ranks these nodules better than one reader does. "
        "The per-nodule labels of the tables above are unchanged.", "",
        *_fair_reading(board),
    ]
    headers = ["Who", "Pairs (nodules, malignant pairs)", "AUC [95% CI] ↑", "Sen (%) ↑", "Spe (%) ↑",
               "Acc (%) ↑", "ΔAUC vs readers [95% CI]"]
    readers = comparison.readers
    pairs_text = f"{readers['n']} ({readers['nodules']}, {readers['malignant']})"
    rows = []
    for point in OPERATING_POINTS:
        rows.append([f"Readers, one vs the others, rating ≥ {point} as malignant", pairs_text,
                     _with_ci(readers["auc"], readers["ci"], 3), *_rates(readers[f"at_{point}"]), "-"])
    if comparison.reader_diameter:
        diameter = comparison.reader_diameter
        rows.append(["One reader's own diameter (their greatest diameter, mm) as the score", pairs_text,
                     _with_ci(diameter["auc"], diameter["ci"], 3), "-", "-", "-", "-"])
    for entry, row in zip(board.entries, comparison.methods):
        versus = row["versus_readers"]
        rows.append([f"{_entry_name(entry)}, probability ≥ {THRESHOLD:g}",
                     f"{row['n']} ({row['nodules']}, {row['malignant']})", _with_ci(row["auc"], row["ci"], 3),
                     *_rates(row["at_threshold"]),
                     "-" if versus is None else _with_ci(versus["difference"], versus["ci"], 3, sign=True)])
    return [*lines, *_table(headers, rows),
            "The readers' AUC is that of their 1-5 ratings as scores; their two rows differ only in the "
            "operating point. The ROC figure marks both operating points. The reader's own diameter is the "
            "greatest diameter that reader measured on the nodule, a size measure with no threshold of its own, "
            "so it has an AUC only.", ""]


# What the methods' inputs owe to the readers whose ratings make the label, by source.
SOURCE_INPUTS = {
    "contours": "On this source (`contours`) the methods' inputs come from the same readers whose ratings make "
                "the label: the patches are rendered from their consensus contours, and the `diameter` baseline "
                "is their mean diameter.",
    "ct": "On this source (`ct`) the pixels are the scanner's, not the readers', but each crop is placed and "
          "sized by the readers' contours, and the `diameter` baseline is still their mean diameter.",
}


def _fair_reading(board) -> list[str]:
    """Above the table, in plain words: what the comparison shows on this source, and on which population."""
    from .leaderboard import REFERENCE_METHOD

    comparison = board.readers
    lines = ["**How to read it.**"]
    rating = comparison.readers["auc"]
    if comparison.reader_diameter:
        size = comparison.reader_diameter["auc"]
        lines.append(f"On these pairs one reader's 1-5 rating has AUC {rating:.3f}, and the same reader's own "
                     f"greatest diameter, used alone as the score, {size:.3f}.")
        if size > rating:
            lines.append(f"Size alone, measured by the same reader, is {size - rating:.3f} above the rating: a "
                         "five-level rating ties many nodules that a continuous size measure puts in order, so a "
                         "method's ΔAUC over the readers holds what a continuous size measure has over a coarse "
                         "rating.")
        lines.append("Compare a method with the diameter row for size against size; neither row shows that a "
                     "method judges malignancy better than a radiologist.")
    lines.append(SOURCE_INPUTS.get(board.first.source, f"On this source (`{board.first.source}`) the page does not "
                                   "say how far the methods' inputs derive from the readers."))
    lines.append(f"The pairs are another population than the tables above: nodules with a single reader "
                 f"({comparison.single_reader} test nodules) have no other readers and are left out, "
                 f"pairs whose other readers average exactly 3 are left out, and a nodule counts once per reader, "
                 "so a nodule read by four counts four times and one read by two twice.")
    reference = [(entry, row) for entry, row in zip(board.entries, comparison.methods)
                 if entry.method == REFERENCE_METHOD and row["auc"] is not None]
    if reference:
        entry, row = reference[0]
        lines.append(f"The `{REFERENCE_METHOD}` baseline scores {row['auc']:.3f} on these pairs and "
                     f"{entry.summary['pooled']['auc']:.3f} per nodule (pooled, first table).")
    return [" ".join(lines), ""]


def attribute_pairs_section(board) -> list[str]:
    """Attribute errors of every method on the readers' pairs, beside the all-nodule errors above."""
    comparison = board.readers
    lines = ["## Attribute scores on the readers' pairs", ""]
    if comparison is None or comparison.unavailable:
        return []
    rows = []
    reference = None
    for entry, errors in zip(board.entries, comparison.attributes):
        if errors is None:
            continue
        reference = reference or errors
        rows.append([f"{_entry_name(entry)}: all test nodules vs the readers' mean (as above)",
                     *(_spread(entry.summary["attributes"][a.name]["error"]) for a in ATTRIBUTES)])
        rows.append([f"{_entry_name(entry)}: readers' pairs vs the mean of the other readers",
                     *(_spread(errors[a.name]["error"]) if a.name in errors else "-" for a in ATTRIBUTES)])
    if reference is None:
        return []
    rows.append(["Readers, one vs the mean of the others, on the same pairs",
                 *(_spread(reference[a.name]["readers"]) if a.name in reference else "-" for a in ATTRIBUTES)])
    return [
        *lines,
        "The table above scores a method on every test nodule against the mean of all its readers, one "
        "weight per nodule, while the readers' row there can only use nodules with two or more readers, one "
        "weight per reader. Here both are scored like for like: for every (nodule, reader) pair of the "
        "comparison above, the method's predicted rating and the reader's own rating against the mean of the "
        "*other* readers, one weight per pair; mean ± standard deviation over test folds, original rating "
        "scale, lower is better (↓).", "",
        *_table(["", *(f"{a.short} ↓" for a in ATTRIBUTES)], rows),
    ]


def _spread(spread: dict) -> str:
    if spread["mean"] is None:
        return "-"
    text = f"{spread['mean']:.2f}"
    return text if spread["std"] is None else f"{text} ± {spread['std']:.2f}"


def calibration_section(board, figure_name: str) -> list[str]:
    return ["## Calibration", "",
            f"Reliability diagram of every method on its pooled test nodules: the mean predicted probability "
            f"against the share of malignant nodules in each of {DESCRIPTION} (scikit-learn's "
            "`calibration_curve`, `strategy=\"quantile\"`). On the diagonal, a probability of 0.3 means 3 in 10 "
            "such nodules are malignant. Brier and ECE are in the first table.", "",
            f"![Reliability diagram, pooled test nodules]({figure_name})", ""]


def write_reliability_figure(board, path: Path) -> None:
    figure = new_figure(5, 5)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8, label="perfectly calibrated")
    for entry in board.entries:
        curve = calibration(entry.nodules["label"], entry.nodules["malignancy"])["curve"]
        if curve is None:
            continue
        axes.plot(curve["predicted"], curve["observed"], marker="o", markersize=3, linewidth=1.0,
                  label=_entry_name(entry))
    axes.set(xlabel="mean predicted probability (per bin)", ylabel="share malignant (per bin)", xlim=(0, 1),
             ylim=(0, 1.01), title=f"Reliability, {DESCRIPTION}")
    axes.title.set_fontsize(8)
    axes.legend(loc="upper left", fontsize=7)
    save_png(figure, path)


def add_reader_points(axes, comparison) -> None:
    """The readers' two operating points (one reader vs the others) as markers on a ROC axes."""
    if comparison is None or comparison.unavailable:
        return
    for point, marker in zip(OPERATING_POINTS, ("D", "s")):
        rates = comparison.readers[f"at_{point}"]
        axes.plot(1 - rates["specificity"]["value"], rates["sensitivity"]["value"], marker=marker, color="black",
                  linestyle="none", markersize=6,
                  label=f"one reader vs the others, rating ≥ {point} (their labels)")


@dataclass(frozen=True)
class Gallery:
    entry: object
    path: Path | None  # None when not written
    unavailable: str = ""


def gallery_path(board, entry, out_dir: Path) -> Path:
    return out_dir / f"{board.setting}-gallery-{entry.method}-{entry.profile}-seed{entry.seed}.png"


def write_galleries(board, out_dir: Path) -> list[Gallery]:
    """One gallery PNG per entry whose source can give back its patches; a reason for the others."""
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.rules import Protocol

    cohort = load_cohort(Protocol.from_options(**board.first.protocol))
    known = set(cohort.table["nodule_id"])
    galleries, loaded = [], {}
    for entry in board.entries:
        record = entry.records[0]
        try:
            unknown = sorted(set(entry.nodules["nodule_id"]) - known)
            if unknown:
                raise LidcbenchError(f"{len(unknown)} of its nodules are not in the cohort (e.g. {unknown[0]})")
            key = (record.source, str(record.source_settings))
            if key not in loaded:
                try:
                    loaded[key] = source_patches(record, cohort)
                except LidcbenchError as error:
                    loaded[key] = error
            if isinstance(loaded[key], LidcbenchError):
                raise loaded[key]
            path = gallery_path(board, entry, out_dir)
            gallery_from_patches(f"{_entry_name(entry)}: most confident mistakes, pooled test folds "
                                 f"({record.source} patches, central slice)", entry.nodules, loaded[key],
                                 cohort.table, path)
        except LidcbenchError as error:
            galleries.append(Gallery(entry, None, str(error).rstrip(".")))
            continue
        galleries.append(Gallery(entry, path))
    return galleries


def gallery_section(board, galleries: list[Gallery]) -> list[str]:
    lines = ["## Most confident mistakes", "",
             f"For each method, its up to {PER_KIND} most confident false positives (benign nodules with the "
             f"highest probability ≥ {THRESHOLD:g}) and false negatives (malignant nodules with the lowest "
             f"probability < {THRESHOLD:g}) over the pooled test folds, by the per-nodule labels: the central "
             "patch from the records' source, with nodule id, mean diameter, the readers' malignancy ratings "
             "and the predicted probability.", ""]
    for gallery in galleries:
        name = _entry_name(gallery.entry)
        lines.append(f"- [{name}]({gallery.path.name})" if gallery.path is not None
                     else f"- {name}: gallery unavailable ({gallery.unavailable}).")
    shown = [{n for frame in most_confident_mistakes(e.nodules).values() for n in frame["nodule_id"]}
             for e in board.entries]
    common = sorted(set.intersection(*shown))
    if len(board.entries) > 1:
        lines += ["", f"In every method's gallery: {len(common)} nodule(s)"
                  + (f", {', '.join(f'`{n}`' for n in common)}." if common else ".")]
    wrong = wrong_everywhere([e.nodules for e in board.entries])
    shared = len(set.intersection(*(set(e.nodules["nodule_id"]) for e in board.entries)))
    lines += ["", f"Nodules every method gets wrong (at {THRESHOLD:g}, of the {shared} that every method scored): "
              f"{len(wrong)}" + (_wrong_summary(board.entries[0].nodules, wrong) if wrong else "."), ""]
    return lines


def _wrong_summary(nodules, wrong: list[str]) -> str:
    """How many of ``wrong`` are malignant ones missed and benign ones called malignant, with their median
    diameters, then the first ids."""
    chosen = nodules[nodules["nodule_id"].isin(wrong)]
    parts = []
    for label, kind in ((1, "malignant ones missed"), (0, "benign ones called malignant")):
        group = chosen[chosen["label"] == label]
        if len(group):
            parts.append(f"{len(group)} {kind} (median diameter {group['diameter_mm'].median():.1f} mm)")
    listed = ", ".join(f"`{n}`" for n in wrong[:WRONG_LISTED])
    first = f"The first {WRONG_LISTED} by id" if len(wrong) > WRONG_LISTED else "They are"
    return f": {' and '.join(parts)}. {first}: {listed}."
