"""Render leaderboards: Markdown pages and ROC figures, byte-identical for identical records."""
from __future__ import annotations

import json
from pathlib import Path

from lidcbench.protocol.attributes import ATTRIBUTES
from lidcbench.protocol.rules import Protocol
from lidcbench.results.coverage import scored_text
from lidcbench.scoring.metrics import CONFIDENCE, N_RESAMPLES, THRESHOLD
from lidcbench.scoring.score import SIZE_SPLIT_MM, STRATA, STRATUM_LABELS

from . import paper
from . import readers_page as readers_view
from .figures import new_figure, save_png
from .leaderboard import REFERENCE_METHOD, Leaderboard

REPORTED = f"({paper.MARK})"
YARDSTICK_LABEL = {
    "inter_observer": "Readers, pairwise (our IB)",
    "reader_vs_others": "Readers, one vs the mean of the others",
    "constant": "Constant, the training folds' mean",
}


def _number(value: float | None, digits: int, scale: float = 1.0, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * scale:{'+' if sign else ''}.{digits}f}"


def _spread(spread: dict[str, float | None], digits: int, scale: float = 1.0) -> str:
    if spread["mean"] is None:
        return "-"
    text = _number(spread["mean"], digits, scale)
    return text if spread["std"] is None else f"{text} ± {_number(spread['std'], digits, scale)}"


def _with_ci(value: float | None, ci: list[float] | None, digits: int, sign: bool = False) -> str:
    if value is None:
        return "-"
    text = _number(value, digits, sign=sign)
    return text if ci is None else f"{text} [{_number(ci[0], digits, sign=sign)}, {_number(ci[1], digits, sign=sign)}]"


def _versus(versus: dict) -> str:
    """ΔAUC with its interval and p-value; says so where DeLong's variance is zero and the AUCs differ."""
    if versus.get("p_value") is None:
        return f"{_with_ci(versus['difference'], None, 3, sign=True)}, p not estimable (zero variance)"
    return f"{_with_ci(versus['difference'], versus['ci'], 3, sign=True)}, p = {versus['p_value']:.2g}"


def _as_printed(value: float) -> str:
    """A reported number with the paper's two decimals, or more where it gave more (0.054)."""
    text = f"{value:.2f}"
    return text if float(text) == value else f"{value:g}"


def _folds(folds: list[int]) -> str:
    contiguous = folds == list(range(folds[0], folds[-1] + 1))
    return f"{folds[0]}-{folds[-1]}" if contiguous and len(folds) > 2 else ",".join(map(str, folds))


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _heading(board: Leaderboard) -> list[str]:
    first = board.first
    description = Protocol.from_options(**first.protocol).describe()
    settings = json.dumps(first.source_settings, sort_keys=True)
    profiles = sorted({e.profile for e in board.entries})
    return [
        f"# Protocol {first.protocol_hash} · source {first.source}", "",
        f"- **Protocol {first.protocol_hash}**: {description}; folds file v{first.folds_version}.",
        f"- **Source** `{first.source}` with settings `{settings}`.",
        f"- **Profiles** {', '.join(f'`{p}`' for p in profiles)}: a method's named settings, shown in brackets "
        "after its name unless `default`; each row's exact parameters are under \"How these were made\".",
        f"- Records: `{board.setting}-<profile>/` in the results folder.", "",
    ]


def _coverage_mark(board: Leaderboard) -> list[str]:
    """Above the tables: partial coverage, skipped folds and hidden rows, so no reader misses them."""
    lines = []
    if board.partial:
        rows = "; ".join(f"{e.label} seed {e.seed}: {scored_text(*e.coverage)}" for e in board.entries)
        lines.append(f"> **Partial coverage.** Some rows score only part of the cohort's nodules in their test folds "
                     f"(the scans of the others were not in the DICOM download): {rows}. Rows with different "
                     "coverage are not comparable number for number; the ΔAUC column compares each row with the "
                     f"`{REFERENCE_METHOD}` baseline on the nodules both scored only.")
    if board.skipped:
        folds = "; ".join(f"{m.method} seed {m.seed}, {m.line()}" for m in board.skipped)
        lines.append(f"> **Folds not scored** (skipped, no row covers them): {folds}.")
    if board.hidden:
        lines.append(f"> **Rows hidden** below `--min-coverage`: {'; '.join(board.hidden)}.")
    return [line for mark in lines for line in (mark, "")]


def _classification(board: Leaderboard) -> list[str]:
    has_reference = any(e.versus_reference for e in board.entries)
    headers = ["Method", "Seed", "Folds", "Scored / cohort", "Acc (%) ↑", "Sen (%) ↑", "Spe (%) ↑", "AUC ↑",
               "Pooled AUC [95% CI] ↑"]
    headers += [f"ΔAUC vs {REFERENCE_METHOD} [95% CI], p"] if has_reference else []
    headers += readers_view.CALIBRATION_HEADERS
    rows = []
    for entry in board.entries:
        mean, pooled = entry.summary["classification"], entry.summary["pooled"]
        row = [entry.label, str(entry.seed), _folds(entry.folds), scored_text(*entry.coverage),
               _spread(mean["accuracy"], 1, 100),
               _spread(mean["sensitivity"], 1, 100), _spread(mean["specificity"], 1, 100),
               _spread(mean["auc"], 3), _with_ci(pooled["auc"], pooled["auc_ci"], 3)]
        if has_reference:
            versus = entry.versus_reference
            row.append("-" if versus is None else _versus(versus)
                       + (f", on {versus['nodules']}" if versus.get("nodules", 0) < entry.coverage[0] else ""))
        rows.append(row + readers_view.calibration_cells(entry))
    for name, acc, sen, spe, auc in paper.TABLE_II:
        row = [f"{name} {REPORTED}", "-", "-", "-", f"{acc:.1f}", f"{sen:.1f}", f"{spe:.1f}", _number(auc, 3), "-"]
        rows.append(row + (["-"] if has_reference else []) + ["-"] * len(readers_view.CALIBRATION_HEADERS))
    return [
        "## Benign vs malignant", "",
        "Scored / cohort: test nodules scored, of the cohort's nodules in the row's test folds, skipped "
        "folds included (fewer when scans are missing from a partial DICOM download). "
        f"Acc, Sen, Spe at a threshold of {THRESHOLD:g} (a probability of {THRESHOLD:g} or more counts as "
        "malignant) and ROC AUC, per test fold, then mean ± sample standard deviation over folds. Pooled AUC: "
        f"all test nodules of the folds at once, with a {CONFIDENCE:.0%} percentile bootstrap interval over "
        f"nodules ({N_RESAMPLES} seeded resamples). "
        + (f"ΔAUC: paired difference from the `{REFERENCE_METHOD}` baseline (DeLong) on the nodules both "
           "scored (their number follows the p-value where it is fewer than the row's); positive means better "
           "than the readers' mean diameter (annotation-derived). " if has_reference else "")
        + "Higher is better (↑). " + readers_view.calibration_note(), "",
        *_table(headers, rows),
        f"Rows marked {REPORTED} are {paper.SOURCE}, Table II, mean over its own five folds of its own "
        "1422-nodule cohort; they are not comparable number for number.", "",
    ]


def _over_seeds(board: Leaderboard) -> list[str]:
    once = [f"{label} (seed {seed}" + (f", records of seeds {','.join(map(str, others))} not shown" if others else "")
            + ")" for label, seed, others in board.once]
    once_note = ([f"Deterministic: one run stands for every seed: {'; '.join(once)}. These methods declare that "
                  "their predictions do not depend on the seed (`depends_on_seed = False`, checked by the "
                  "conformance checks), so `lidcbench run` runs them with the first seed only and the page shows "
                  "them once.", ""] if once and (board.over_seeds or any(others for *_, others in board.once))
                 else [])
    if not board.over_seeds:
        return ["## Over seeds", "", *once_note] if once_note else []
    has_reference = any(s.versus_reference for s in board.over_seeds)
    headers = ["Method", "Seeds", "Acc (%) ↑", "Sen (%) ↑", "Spe (%) ↑", "AUC ↑", "Pooled AUC ↑"]
    headers += [f"ΔAUC vs {REFERENCE_METHOD} ↑"] if has_reference else []
    rows = []
    for summary in board.over_seeds:
        m = summary.metrics
        row = [summary.label, ",".join(map(str, summary.seeds)), _spread(m["accuracy"], 1, 100),
               _spread(m["sensitivity"], 1, 100), _spread(m["specificity"], 1, 100), _spread(m["auc"], 3),
               _spread(m["pooled_auc"], 3)]
        if has_reference:
            versus = summary.versus_reference
            row.append("-" if versus is None else _spread(versus, 3))
        rows.append(row)
    return [
        "## Over seeds", "",
        "Methods run with several seeds: every column is the mean over the seeds of that seed's value in the "
        "table above (fold means, the pooled AUC"
        + (f", and the ΔAUC vs `{REFERENCE_METHOD}`, each seed's paired DeLong difference" if has_reference else "")
        + "), ± the sample standard deviation across seeds; the per-seed rows, with their intervals and "
        "p-values, stay in the table above. No predictions are averaged over seeds.", "",
        *_table(headers, rows), *once_note,
    ]


def _by_size(board: Leaderboard) -> list[str]:
    headers = ["Method", "Seed", "Size", "Nodules (malignant)", "Acc (%) ↑", "Sen (%) ↑", "Spe (%) ↑",
               "AUC [95% CI] ↑"]
    rows = []
    for entry in board.entries:
        for stratum in STRATA:
            m = entry.summary["pooled_by_size"][stratum]
            rows.append([entry.label, str(entry.seed), STRATUM_LABELS[stratum], f"{m['n']} ({m['malignant']})",
                         _number(m["accuracy"], 1, 100), _number(m["sensitivity"], 1, 100),
                         _number(m["specificity"], 1, 100), _with_ci(m["auc"], m["auc_ci"], 3)])
    column = board.first.metrics["size_column"]
    return [
        "## By nodule size", "",
        f"Pooled over each row's test folds, split at {SIZE_SPLIT_MM:g} mm of `{column}` (the protocol's "
        "diameter). Size alone separates benign from malignant well in this cohort, so a method should hold "
        "up within each stratum.", "",
        *_table(headers, rows),
    ]


def _attributes(board: Leaderboard) -> list[str]:
    headers = ["", *(f"{a.short} ↓" for a in ATTRIBUTES)]
    rows = [[f"{entry.label}, seed {entry.seed}, folds {_folds(entry.folds)}",
             *(_spread(entry.summary["attributes"][a.name]["error"], 2) for a in ATTRIBUTES)]
            for entry in board.entries if entry.predicts_attributes]
    for key, label in YARDSTICK_LABEL.items():
        rows.append([f"{label}, folds {_folds(board.yardstick_folds)}",
                     *(_spread(board.yardsticks[a.name][key], 2) for a in ATTRIBUTES)])
    for name, errors in paper.TABLE_III:
        rows.append([f"{name} {REPORTED}", *(_as_printed(errors[a.name]) for a in ATTRIBUTES)])
    scales = ", ".join(f"{a.short} {a.low}-{a.high}" for a in ATTRIBUTES)
    return [
        "## Attribute scores", "",
        f"Mean absolute error on the original rating scale ({scales}) between the predicted score (the mean "
        "over the nodule's slices) and the readers' mean rating; mean ± standard deviation over test folds. "
        "Lower is better (↓). The reader and constant rows are computed on the same test nodules and are "
        "the yardsticks: a model that predicts the readers' mean should be judged first against one reader "
        "against the others, and a constant already beats pairwise reader disagreement on some attributes. "
        "Methods that predict no attributes have no row.", "",
        *_table(headers, rows),
        f"Rows marked {REPORTED} are {paper.SOURCE}, Table III, on its own cohort.", "",
    ]


def _code(entry) -> str:
    """Whether the row's records were made by today's method code (by their code digest)."""
    made = sorted({r.provenance.method_code or "" for r in entry.records})
    if entry.code_today is None:
        return "method not installed here: " + (", ".join(f"`{d}`" for d in made if d) or "no digest")
    if made == [entry.code_today]:
        return f"today's (`{entry.code_today}`)"
    if "" in made:
        commits = sorted({(r.provenance.git_commit or "unknown commit")[:10] for r in entry.records
                          if not r.provenance.method_code})
        return f"**older**: made at {', '.join(commits)}, before records kept a code digest"
    return f"**older**: {', '.join(f'`{d}`' for d in made)}; today's `{entry.code_today}`"


def _older_code_mark(board: Leaderboard) -> list[str]:
    older = [f"{e.label} seed {e.seed}" for e in board.entries if e.older_code]
    if not older:
        return []
    return [f"> **Made by older code.** These rows' records were made by other method code than today's, so a "
            f"fresh run may not give their numbers (`lidcbench reproduce` checks; \"How these were made\" says "
            f"which code made them): {'; '.join(older)}.", ""]


def _provenance(board: Leaderboard) -> list[str]:
    headers = ["Method", "Seed", "Parameters", "Method code", "lidcbench", "Commit", "Device", "Wall time (s)"]
    rows = []
    for entry in board.entries:
        provenances = [r.provenance for r in entry.records]
        commits = sorted({f"{p.git_commit[:10]}{'+dirty' if p.git_dirty else ''}"
                          for p in provenances if p.git_commit}) or ["-"]
        times = [p.wall_time_s for p in provenances]
        rows.append([
            entry.label, str(entry.seed), f"`{json.dumps(entry.records[0].method_params, sort_keys=True)}`",
            _code(entry),
            ", ".join(sorted({p.lidcbench_version for p in provenances})), ", ".join(commits),
            ", ".join(sorted({p.device for p in provenances})),
            "-" if None in times else f"{sum(times):.0f}",
        ])
    return ["## How these were made", "",
            "Method code: a digest of the method's code (its module, the modules of its package and lidcbench's "
            "training code it uses, comments and docstrings left out) in its records, against today's; "
            "**older** marks a row whose records other code made.", "", *_table(headers, rows)]


def page_markdown(board: Leaderboard, figure_name: str, mark: str, reliability_name: str | None = None,
                  galleries: list | None = None) -> str:
    lines = [mark, *_heading(board), *_coverage_mark(board), *_older_code_mark(board), *_classification(board),
             *_over_seeds(board),
             f"![ROC curves, pooled test nodules]({figure_name})",
             "", *readers_view.reader_section(board),
             *(readers_view.calibration_section(board, reliability_name) if reliability_name else []),
             *_by_size(board), *_attributes(board), *readers_view.attribute_pairs_section(board),
             *(readers_view.gallery_section(board, galleries) if galleries is not None else []),
             *_provenance(board)]
    return "\n".join(lines).rstrip("\n") + "\n"


def index_markdown(boards: list[Leaderboard], mark: str) -> str:
    rows = [[f"[{b.setting}]({b.setting}.md)", b.first.protocol_hash, b.first.source,
             ", ".join(sorted({e.label for e in b.entries})), _page_coverage(b)] for b in boards]
    lines = [mark, "# Leaderboards", "",
             "One page per protocol and pixel source (with its settings), regenerated from the result records "
             "by `lidcbench leaderboard`. A method's profile is part of its row name.", "",
             *_table(["Page", "Protocol", "Source", "Methods (profile)", "Coverage"], rows)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _page_coverage(board: Leaderboard) -> str:
    if not board.partial and not board.skipped:
        return "every test nodule of its folds"
    lowest = min((e.coverage for e in board.entries), key=lambda c: c[0] / c[1] if c[1] else 1.0, default=None)
    text = f"**partial**, lowest row {scored_text(*lowest)}" if lowest and board.partial else "**partial**"
    return text + (f"; {len(board.skipped)} fold(s) skipped" if board.skipped else "")


def write_roc_figure(board: Leaderboard, path: Path) -> None:
    """ROC curve of every entry on its pooled test nodules; no timestamp or version in the file."""
    from sklearn.metrics import roc_curve

    figure = new_figure(5, 5)
    axes = figure.subplots()
    for entry in board.entries:
        nodules = entry.nodules
        if nodules["label"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(nodules["label"], nodules["malignancy"])
        auc = entry.summary["pooled"]["auc"]
        axes.plot(fpr, tpr, linewidth=1.2, label=f"{entry.label} (seed {entry.seed}), AUC {auc:.3f}")
    readers_view.add_reader_points(axes, board.readers)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01),
             title=f"Pooled test nodules, protocol {board.first.protocol_hash}, {board.first.source}")
    if axes.get_legend_handles_labels()[0]:  # no curve when every row is hidden or single-class
        axes.legend(loc="lower right", fontsize=7)
    save_png(figure, path)
