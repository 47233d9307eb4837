"""Print the readers' comparison and calibration of one scored method in the terminal (``lidcbench score``)."""
from __future__ import annotations

from ..metrics import THRESHOLD
from .calibration import DESCRIPTION
from .comparison import OPERATING_POINTS, ReaderComparison


def _percent(rates: dict, name: str) -> str:
    value = rates[name]["value"]
    return "-" if value is None else f"{100 * value:.1f}"


def _auc(row: dict) -> str:
    if row["auc"] is None:
        return "-"
    ci = row["ci"]
    return f"{row['auc']:.3f}" + ("" if ci is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]")


def print_readers(comparison: ReaderComparison, calibration: dict, console, title: str = "") -> None:
    from rich.table import Table

    if comparison.unavailable:
        console.print(f"one radiologist against the others: not available ({comparison.unavailable})",
                      highlight=False)
    else:
        table = Table(title=f"{title}: one reader vs the others, on {comparison.pairs} (nodule, reader) pairs of "
                            f"{comparison.nodules} nodules; intervals resample nodules".lstrip(": "),
                      title_justify="left")
        for header in ("", "AUC [95% CI]", "Sen", "Spe", "Acc", "ΔAUC vs readers [95% CI]"):
            table.add_column(header, justify="left" if not header else "right")
        readers = comparison.readers
        for point in OPERATING_POINTS:
            rates = readers[f"at_{point}"]
            table.add_row(f"readers, rating ≥ {point}", _auc(readers),
                          *(_percent(rates, n) for n in ("sensitivity", "specificity", "accuracy")), "-")
        for row in comparison.methods:
            versus = row["versus_readers"]
            difference = "-" if versus is None else (
                f"{versus['difference']:+.3f}" + ("" if versus["ci"] is None else
                                                  f" [{versus['ci'][0]:+.3f}, {versus['ci'][1]:+.3f}]"))
            table.add_row(f"{title or 'method'}, p ≥ {THRESHOLD:g}", _auc(row),
                          *(_percent(row["at_threshold"], n) for n in ("sensitivity", "specificity", "accuracy")),
                          difference)
        console.print(table)
    if calibration["brier"] is not None:
        console.print(f"calibration, pooled test nodules: Brier {calibration['brier']:.3f}, ECE "
                      f"{calibration['ece']:.3f} ({DESCRIPTION})", highlight=False)
