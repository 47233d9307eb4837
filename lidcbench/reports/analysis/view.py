"""Render the analyses: Markdown pages, PNG figures and a terminal table, beside the paper's Table IV."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lidcbench.protocol.attributes import ATTRIBUTES

from .. import paper
from ..figures import new_figure, save_png
from .rfe import RfeResult, above_average
from .tsne import NEIGHBOURS, SEED, Embedding, chance_agreement

REPORTED = f"({paper.MARK})"
MALIGNANT, BENIGN = "tab:red", "tab:blue"  # the paper's Fig. 5 colours


def _short(names) -> str:
    shorts = {a.name: a.short for a in ATTRIBUTES}
    return ", ".join(shorts[n] for n in names)


def _folds(rfe: RfeResult) -> str:
    return ", ".join(map(str, rfe.folds))


def paper_row() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Table IV as (mean, std, ranking, above average), attributes in our order."""
    mean, std, ranking = (np.array([paper.TABLE_IV[a.name][i] for a in ATTRIBUTES]) for i in range(3))
    return mean, std, ranking.astype(int), above_average(mean)


def rank_agreement(rfe: RfeResult) -> float:
    """Spearman correlation between our overall ranking and the paper's."""
    from scipy.stats import spearmanr

    return float(spearmanr(rfe.ranking, paper_row()[2]).statistic)


def rfe_rows(rfe: RfeResult, compact: bool = False) -> list[list[str]]:
    """One row per attribute: ours (importance, ranking, mean rank with each fold's, above average), then
    the paper's (importance, ranking, above average). ``compact``: narrower cells for a terminal."""
    reported_mean, reported_std, reported_ranking, reported_above = paper_row()
    plus_minus = "±" if compact else " ± "
    rows = []
    for j, attribute in enumerate(ATTRIBUTES):
        per_fold = ",".join(map(str, rfe.rank[:, j])) if compact else \
            f"{rfe.mean_rank[j]:.1f} ({', '.join(map(str, rfe.rank[:, j]))})"
        rows.append([
            attribute.short, f"{rfe.mean[j]:.3f}{plus_minus}{rfe.std[j]:.3f}", str(rfe.ranking[j]), per_fold,
            "✓" if rfe.above_average[j] else "", f"{reported_mean[j]:.3f}{plus_minus}{reported_std[j]:.3f}",
            str(reported_ranking[j]), "✓" if reported_above[j] else "",
        ])
    return rows


RFE_HEADERS = ["Attribute", "Importance", "Ranking", "Mean rank (per fold)", "Above average",
               "Importance (paper)", "Ranking (paper)", "Above average (paper)"]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(row) + " |" for row in rows), ""]


def _inputs_line(rfe: RfeResult, standardised: str) -> str:
    table = rfe.inputs.table
    return (f"- **Inputs**: {rfe.inputs.title}; {len(table)} nodules ({int(table['label'].sum())} malignant), "
            f"attributes on the original rating scale, each standardised {standardised}.")


def rfe_markdown(rfe: RfeResult, figure_name: str, mark: str) -> str:
    lines = [
        mark, f"# Recursive feature elimination: {rfe.inputs.title}", "",
        _inputs_line(rfe, "on the training nodules"),
        f"- **Repetitions**: for each of folds {_folds(rfe)}, the nodules of the other folds "
        f"({', '.join(map(str, rfe.n_train))} nodules); mean ± sample standard deviation over the repetitions.",
        "- **Model**: scikit-learn `RFE` with a logistic regression (L2, C = 1) from the eight attributes to "
        "benign/malignant, one attribute removed per step (the smallest coefficient magnitude).",
        "- **Importance**: when an attribute is removed, its share of the coefficient magnitudes still in the "
        "model, taken of the importance not yet given out (the last attribute takes the rest); the eight sum to "
        "1, our reading of the paper's nested \"important ratio\" (`lidcbench.reports.analysis.rfe`).",
        "- **Ranking**: 1 for the attribute kept to the end; overall by mean rank over repetitions, ties by "
        "importance. **Above average**: mean importance above the mean of the eight.", "",
        *_table(RFE_HEADERS, rfe_rows(rfe)),
        f"Spearman correlation of our ranking with the paper's: {rank_agreement(rfe):+.2f}. Below average here, "
        f"the inputs of the left t-SNE: {_short(rfe.below_average)}.", "",
        f"Columns marked (paper) are {paper.SOURCE}, Table IV, {paper.MARK}, on its own cohort (it does not say "
        "whether on the readers' ratings or its network's); its std of Sub is printed 0.19. Its above-average "
        "marks are computed from its printed importances, as it marks them.", "",
        f"![Importance per attribute, ours and the paper's]({figure_name})",
    ]
    return "\n".join(lines) + "\n"


def write_rfe_figure(rfe: RfeResult, path: Path) -> None:
    """Importance per attribute, ours (mean ± std over folds) beside the paper's, with the average line."""
    reported_mean, _, reported_ranking, _ = paper_row()
    x = np.arange(len(ATTRIBUTES))
    figure = new_figure(7, 4)
    axes = figure.subplots()
    axes.bar(x - 0.2, rfe.mean, 0.4, yerr=rfe.std, capsize=3, color="tab:green", label="ours, mean ± std over folds")
    axes.bar(x + 0.2, reported_mean, 0.4, color="lightgrey", edgecolor="grey", label=f"paper, Table IV {REPORTED}")
    axes.axhline(rfe.mean.mean(), color="tab:green", linestyle="--", linewidth=0.8, label="average importance")
    rankings = zip(ATTRIBUTES, rfe.ranking, reported_ranking)
    axes.set_xticks(x, [f"{a.short}\n#{ours} · #{theirs}" for a, ours, theirs in rankings])
    axes.set(xlabel="attribute, and its ranking: ours · the paper's", ylabel="importance (shares of 1)",
             title=f"RFE importance: {rfe.inputs.title}")
    axes.title.set_fontsize(8)
    axes.legend(fontsize=7)
    save_png(figure, path)


def tsne_markdown(rfe: RfeResult, pair: tuple[Embedding, Embedding], figure_name: str, mark: str) -> str:
    below, every = pair
    labels = rfe.inputs.table["label"].to_numpy()
    rows = [[side, _short(e.attributes), f"{e.perplexity:g}", f"{e.neighbour_agreement:.3f}"]
            for side, e in (("left", below), ("right", every))]
    lines = [
        mark, f"# t-SNE: {rfe.inputs.title}", "",
        _inputs_line(rfe, "over all of them"),
        f"- **Left**: the attributes with below-average RFE importance ([rfe-{rfe.inputs.stem}.md]"
        f"(rfe-{rfe.inputs.stem}.md)); **right**: all eight, as in the paper's Fig. 5. Malignant red, benign blue.",
        f"- scikit-learn `TSNE`, seed {SEED}, PCA initialisation, one thread: the same inputs give the same figure.",
        f"- **Neighbour agreement**: the share of each nodule's {NEIGHBOURS} nearest nodules in the embedding "
        f"that have its label; {chance_agreement(labels):.3f} by chance (p² + (1 - p)², p the malignant share).",
        "",
        *_table(["Embedding", "Attributes", "Perplexity", "Neighbour agreement ↑"], rows),
        f"![t-SNE, below-average attributes and all eight]({figure_name})",
    ]
    return "\n".join(lines) + "\n"


def write_tsne_figure(rfe: RfeResult, pair: tuple[Embedding, Embedding], path: Path) -> None:
    labels = rfe.inputs.table["label"].to_numpy()
    figure = new_figure(10, 5.3)
    for axes, embedding, what in zip(figure.subplots(1, 2), pair, ("Below-average attributes", "All eight")):
        for label, colour, name in ((0, BENIGN, "benign"), (1, MALIGNANT, "malignant")):
            points = embedding.coordinates[labels == label]
            axes.scatter(points[:, 0], points[:, 1], s=5, color=colour, alpha=0.6, linewidths=0,
                         label=f"{name} ({len(points)})")
        axes.set_title(f"{what}: {_short(embedding.attributes)}\nneighbour agreement "
                       f"{embedding.neighbour_agreement:.3f}", fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.legend(fontsize=7, markerscale=2)
    figure.suptitle(f"t-SNE (seed {SEED}) of {rfe.inputs.title}", fontsize=9)
    save_png(figure, path)


def print_rfe(rfe: RfeResult, console) -> None:
    """The Markdown page's table with short headers, for a terminal."""
    from rich.table import Table

    table = Table(title=f"RFE: {rfe.inputs.title}, folds {_folds(rfe)}; paper: {paper.SOURCE}, Table IV")
    for header in ("Attr", "Importance", "Rank", "Fold ranks", "> avg", "Paper", "Rank", "> avg"):
        table.add_column(header, justify="left" if header == "Attr" else "right")
    for row in rfe_rows(rfe, compact=True):
        table.add_row(*row)
    console.print(table)
    console.print(f"Spearman correlation with the paper's ranking {rank_agreement(rfe):+.2f}; below average: "
                  f"{_short(rfe.below_average)}.", highlight=False)


def print_tsne(pair: tuple[Embedding, Embedding], console) -> None:
    for side, embedding in zip(("left", "right"), pair):
        console.print(f"t-SNE {side}: {_short(embedding.attributes)}, neighbour agreement "
                      f"{embedding.neighbour_agreement:.3f}", highlight=False)
