"""Print a :class:`lidcbench.scoring.score.Score` as rich tables in the terminal."""
from __future__ import annotations

from lidcbench.protocol.attributes import ATTRIBUTES

from .score import STRATA, STRATUM_LABELS, Score

PERCENT = ("accuracy", "sensitivity", "specificity")


def _value(value: float | None, name: str) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}" if name in PERCENT else f"{value:.3f}"


def print_score(score: Score, console, title: str = "") -> None:
    from rich.table import Table

    names = ("accuracy", "sensitivity", "specificity", "auc")
    table = Table(title=f"{title}: benign vs malignant (Acc/Sen/Spe in %, threshold 0.5)".lstrip(": "),
                  title_justify="left")
    for header in ("fold", "nodules", "malignant", "Acc", "Sen", "Spe", "AUC"):
        table.add_column(header, justify="left" if header == "fold" else "right")
    for fold, metrics in score.folds.items():
        m = metrics["classification"]
        table.add_row(str(fold), str(m["n"]), str(m["malignant"]), *(_value(m[n], n) for n in names))
    summary = score.summary
    spread = summary["classification"]
    table.add_row("mean", "", "", *(_value(spread[n]["mean"], n) for n in names))
    table.add_row("std", "", "", *(_value(spread[n]["std"], n) for n in names), end_section=True)
    for label, m in (("pooled", summary["pooled"]),
                     *((f"pooled {STRATUM_LABELS[s]}", summary["pooled_by_size"][s]) for s in STRATA)):
        table.add_row(label, str(m["n"]), str(m["malignant"]), *(_value(m[n], n) for n in names))
    console.print(table)
    ci = summary["pooled"]["auc_ci"]
    if ci is not None:
        console.print(f"pooled AUC {summary['pooled']['auc']:.3f}, 95% bootstrap CI [{ci[0]:.3f}, {ci[1]:.3f}]",
                      highlight=False)

    attributes = summary["attributes"]
    rows = [("error", "predicted")] if any(attributes[a.name]["error"]["mean"] is not None for a in ATTRIBUTES) else []
    rows += [("inter_observer", "readers, pairwise"), ("reader_vs_others", "one reader vs others"),
             ("constant", "training mean")]
    table = Table(title="attribute absolute error, original scale (lower is better)", title_justify="left")
    table.add_column("")
    for attribute in ATTRIBUTES:
        table.add_column(attribute.short, justify="right")
    for key, label in rows:
        table.add_row(label, *(_number(attributes[a.name][key]["mean"]) for a in ATTRIBUTES))
    console.print(table)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
