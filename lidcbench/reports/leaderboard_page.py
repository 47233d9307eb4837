"""Render leaderboards: Markdown pages and ROC figures, byte-identical for identical records."""
from __future__ import annotations

import json
from pathlib import Path

from lidcbench.protocol.attributes import ATTRIBUTES
from lidcbench.protocol.rules import Protocol
from lidcbench.results.coverage import scored_text
from lidcbench.running.size_baseline import COMPUTED_NOTE
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


# What each pixel source puts before a method, said at the top of its page (docs/sources.md has the rest).
SOURCE_CARRIES = {
    "contours": "the radiologists' outlines of each nodule rendered as patches: its shape and size slice by "
                "slice, and no CT texture, density or surroundings, so these scores measure what shape and size "
                "predict, not what a method would do on CT ([sources](../docs/sources.md#the-two-sources))",
    "ct": "the user's own LIDC-IDRI CT scans, cropped around each nodule: real texture, density and surroundings "
          "([sources](../docs/sources.md#the-two-sources))",
    "external": "predictions made outside lidcbench and scored with `lidcbench score`; the records do not say "
                "what their inputs were",
}
SIGNIFICANCE = 0.05
GAP_DOC = "../docs/leaderboards.md#why-these-numbers-are-not-the-papers"


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
        f"- Records: `{board.setting}-<profile>/` in the results folder.",
        f"- **What the source carries**: {SOURCE_CARRIES.get(first.source, 'pixels from the source named above')}.",
        f"- **Against size**: {_significance(board)}",
        *_computed_note(board), "",
    ]


def _computed_note(board: Leaderboard) -> list[str]:
    computed = [e for e in board.entries if e.computed]
    if not computed:
        return []
    return [f"- **{computed[0].label}**: {COMPUTED_NOTE}. No `{REFERENCE_METHOD}` record shares this page, so "
            f"the registered `{REFERENCE_METHOD}` method was fitted and run for it in this process on folds "
            f"{_folds(computed[0].folds)} (it reads the readers' mean diameter only and is deterministic)."]


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down correction: which of a family of tests stay significant at ``alpha`` together."""
    kept = [False] * len(p_values)
    for rank, index in enumerate(sorted(range(len(p_values)), key=p_values.__getitem__)):
        if p_values[index] >= alpha / (len(p_values) - rank):
            break
        kept[index] = True
    return kept


def _significance(board: Leaderboard) -> str:
    """Which rows' AUCs differ from the size baseline's at :data:`SIGNIFICANCE`, and which do not."""
    compared = [e for e in board.entries if e.versus_reference is not None]
    if not compared:
        return (f"no row is compared with the `{REFERENCE_METHOD}` baseline on this page, so nothing here says "
                "what a method adds to size.")
    seeds = len({e.seed for e in compared}) > 1

    def name(entry) -> str:
        versus = entry.versus_reference
        p = "n/a" if versus.get("p_value") is None else f"{versus['p_value']:.2g}"
        return f"{entry.label}{f' seed {entry.seed}' if seeds else ''} (ΔAUC {versus['difference']:+.3f}, p {p})"

    p_values = [e.versus_reference.get("p_value") or 1.0 for e in compared]
    differ = [e for e, p in zip(compared, p_values) if p < SIGNIFICANCE]
    tied = [e for e in compared if e not in differ]
    said = []
    if differ:
        said.append(f"at p < {SIGNIFICANCE:g} (paired DeLong test), {', '.join(map(name, differ))} "
                    f"{'differs' if len(differ) == 1 else 'differ'} from the `{REFERENCE_METHOD}` baseline in AUC")
        if len(compared) > 1:  # each test alone; the page makes several
            held = [e.label for e, kept in zip(compared, holm(p_values, SIGNIFICANCE)) if kept]
            said[-1] += (f", each test taken alone; with Holm's correction for the {len(compared)} comparisons on "
                         f"this page, {', '.join(held) if held else 'none'} "
                         f"{'remains' if len(held) == 1 else 'remain'} below {SIGNIFICANCE:g}")
    if tied and not differ:
        said.append(f"no row differs from the `{REFERENCE_METHOD}` baseline in AUC at p < {SIGNIFICANCE:g} "
                    f"(paired DeLong test): {', '.join(map(name, tied))}; where they are ranked, read them as "
                    "ties with size")
    elif tied:
        said.append(f"the others do not ({', '.join(map(name, tied))}): read them as ties with size")
    return "; ".join(said) + "."


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


def _classification(board: Leaderboard, choices: str | None = None) -> list[str]:
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
        _paper_gap(board), "",
        *([f"Why published numbers are higher: [What evaluation choices do to the AUC]({choices}).", ""]
          if choices else []),
    ]


def _paper_gap(board: Leaderboard) -> str:
    """One sentence beside the paper's rows on why ours sit where they do, with the link that explains it."""
    aucs = [e.summary["pooled"]["auc"] for e in board.entries if e.summary["pooled"]["auc"] is not None]
    best = max(aucs, default=None)
    reported = max(auc for *_, auc in paper.TABLE_II if auc is not None)
    texture = " on patches without CT texture (the contours source)" if board.first.source == "contours" else ""
    ours = f"Our best pooled AUC here ({best:.3f}) against the paper's {reported:.3f}: " if best is not None else ""
    return (f"{ours}a different cohort (the paper's counts cannot be reached under its stated rules){texture}, "
            f"and implementations that follow the paper only where it is specific; "
            f"[why these numbers are not the paper's]({GAP_DOC}).")


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
        f"Rows marked {REPORTED} are {paper.SOURCE}, Table III, on its own cohort. {_ib_texture_note(board)}", "",
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


def _ib_texture_note(board: Leaderboard) -> str:
    """The paper's IB texture value is far from ours where its other IB values are close: say so, computed."""
    reported = dict(paper.TABLE_III)["IB (inter-observer)"]
    ours = {a.name: board.yardsticks[a.name]["inter_observer"]["mean"] for a in ATTRIBUTES}
    if any(value is None for value in ours.values()):
        return ""
    others = max(abs(reported[name] - ours[name]) for name in ours if name != "texture")
    apart = abs(reported["texture"] - ours["texture"]) > 2 * others  # far further off than the rest
    return (f"The paper's IB texture value, {_as_printed(reported['texture'])}, stands against our "
            f"{ours['texture']:.2f}, while its seven other IB values are within {others:.2f} of ours"
            + (": perhaps a misprint, which the paper does not comment on" if apart else "")
            + f"; it is shown as printed ([more]({GAP_DOC})).")


def fold_warnings(records) -> list[str]:
    """Each distinct fit's warnings (provenance.warnings) once, after the folds that gave them: "folds 0, 1: ..."."""
    folds_by_text: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: r.fold):
        if record.provenance.warnings:
            folds_by_text.setdefault("; ".join(record.provenance.warnings), []).append(record.fold)
    return [f"fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, folds))}: {text}"
            for text, folds in folds_by_text.items()]


def fitting_warnings(records) -> str:
    """The records' warnings while fitting, by fold: "none", "not kept", or each fold's own."""
    if any(r.provenance.warnings is None for r in records):
        return "not kept"
    warned = fold_warnings(records)
    return ("<br>".join(warned) if warned else "none").replace("|", "\\|")


def _provenance(board: Leaderboard) -> list[str]:
    headers = ["Method", "Seed", "Parameters", "Method code", "lidcbench", "Commit", "Device", "Isolation",
               "Wall time (s)", "Chosen while fitting, by fold", "Warnings while fitting"]
    rows = []
    for entry in board.entries:
        if entry.computed:  # made while writing the page: no commit, time or device to report beyond that
            params = json.dumps(entry.records[0].method_params, sort_keys=True)
            rows.append([entry.label, str(entry.seed), f"`{params}`", _code(entry), "-", "-", COMPUTED_NOTE,
                         "off (in-process)", "-", "none", "-"])
            continue
        provenances = [r.provenance for r in entry.records]
        commits = sorted({f"{p.git_commit[:10]}{'+dirty' if p.git_dirty else ''}"
                          for p in provenances if p.git_commit}) or ["-"]
        times = [p.wall_time_s for p in provenances]
        rows.append([
            entry.label, str(entry.seed), f"`{json.dumps(entry.records[0].method_params, sort_keys=True)}`",
            _code(entry),
            ", ".join(sorted({p.lidcbench_version for p in provenances})), ", ".join(commits),
            ", ".join(sorted({p.device for p in provenances})),
            ", ".join(sorted({p.isolation or "unknown" for p in provenances})),
            "-" if None in times else f"{sum(times):.0f}",
            _chosen(entry.records),
            fitting_warnings(entry.records),
        ])
    return ["## How these were made", "",
            "Method code: a digest of the method's code (its module, the modules of its package and lidcbench's "
            "training code it uses, comments and docstrings left out) in its records, against today's; "
            "**older** marks a row whose records other code made. "
            "Chosen while fitting: values a method picked on its training folds (lasso's and elastic-net's "
            "alpha and l1_ratio, by inner cross-validation grouped by patient), shown for the malignancy model "
            "where it has one per rating (each record holds them all). "
            "Isolation: what kept the test labels out of the method's reach while it ran: `wall` (the operating "
            "system's, Landlock on Linux), `tripwire` (an audit hook only, which a determined method can undo), `off`, "
            "or `unknown` for records made before it was recorded ([isolation](../docs/isolation.md)). "
            "Warnings while fitting: what the method's fit and predict warned, by fold (a record keeps each "
            "distinct warning once); `not kept` for records made before they were kept.", "",
            *_table(headers, rows)]


def _chosen(records) -> str:
    """Each fold's ``selected_params`` (its malignancy model's where there is one per target), or why none."""
    if all(r.selected_params is None for r in records):
        return "not kept (records made before lidcbench kept them)"
    if not any(r.selected_params for r in records):
        return "none"
    by_fold = []
    for record in records:
        chosen = record.selected_params
        if chosen is None:
            by_fold.append(f"{record.fold}: not kept")
            continue
        chosen = chosen.get("malignancy", chosen) if isinstance(chosen.get("malignancy"), dict) else chosen
        by_fold.append(f"{record.fold}: " + ", ".join(
            f"{name} {value:.3g}" if isinstance(value, float) else f"{name} {value}" for name, value in chosen.items()))
    return "; ".join(by_fold)


def page_markdown(board: Leaderboard, figure_name: str, mark: str, reliability_name: str | None = None,
                  galleries: list | None = None, choices: str | None = None) -> str:
    """``choices``: the evaluation-choices page to link beside the paper's rows, if there is one."""
    lines = [mark, *_heading(board), *_coverage_mark(board), *_older_code_mark(board),
             *_classification(board, choices), *_over_seeds(board),
             f"![ROC curves, pooled test nodules]({figure_name})",
             "", *readers_view.reader_section(board),
             *(readers_view.calibration_section(board, reliability_name) if reliability_name else []),
             *_by_size(board), *_attributes(board), *readers_view.attribute_pairs_section(board),
             *(readers_view.gallery_section(board, galleries) if galleries is not None else []),
             *_provenance(board)]
    return "\n".join(lines).rstrip("\n") + "\n"


def index_markdown(boards: list[Leaderboard], mark: str, others: list[tuple[str, str]] = ()) -> str:
    """The index: one row per leaderboard, then ``others`` ((title, file) of the pages that are not boards)."""
    rows = [[f"[{b.setting}]({b.setting}.md)", b.first.protocol_hash, b.first.source,
             ", ".join(sorted({e.label for e in b.entries})), _page_coverage(b)] for b in boards]
    lines = [mark, "# Leaderboards", "",
             "One page per protocol and pixel source (with its settings), regenerated from the result records "
             "by `lidcbench leaderboard`. A method's profile is part of its row name.", "",
             *_table(["Page", "Protocol", "Source", "Methods (profile)", "Coverage"], rows),
             *(["Other pages, from records that never join a leaderboard:", "",
                *(f"- [{title}]({page})" for title, page in others)] if others else [])]
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

    figure = new_figure(8.5, 5)  # the legend beside the axes, where it covers no curve
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
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    save_png(figure, path)
