"""Two t-SNE embeddings of the nodules, as in the paper's Fig. 5.

Left: the attributes whose RFE importance is below the average (the paper's
"discarded attributes"); right: all eight. Each attribute is standardised
over the nodules first. t-SNE is scikit-learn's, seeded, with PCA
initialisation (random when a single attribute is embedded), run on one
thread so the same inputs give the same coordinates, hence the same PNG.

How well an embedding separates the labels is put in one number: the
**neighbour agreement**, the share of each nodule's :data:`NEIGHBOURS`
nearest nodules in the embedding that have its label, averaged over nodules.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidcbench.errors import AnalysisError
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES

from .inputs import Inputs
from .rfe import RfeResult

SEED = 0
PERPLEXITY = 30.0  # scikit-learn's default; lowered to (n - 1) / 3 for fewer than 91 nodules
NEIGHBOURS = 10


@dataclass(frozen=True, eq=False)
class Embedding:
    """2-D coordinates of every nodule of ``inputs`` (its table's order) from ``attributes``."""

    attributes: tuple[str, ...]
    coordinates: np.ndarray
    perplexity: float
    neighbour_agreement: float


def embed(features: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, float]:
    """(coordinates, perplexity used) of the standardised ``features``."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    features = StandardScaler().fit_transform(np.asarray(features, dtype=float))
    perplexity = min(PERPLEXITY, (len(features) - 1) / 3)
    model = TSNE(n_components=2, perplexity=perplexity, init="pca" if features.shape[1] > 1 else "random",
                 random_state=seed)
    with threadpool_limits(limits=1):  # parallel sums change the last bits, and the embedding with them
        return model.fit_transform(features), perplexity


def neighbour_agreement(coordinates: np.ndarray, labels: np.ndarray, k: int = NEIGHBOURS) -> float:
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels)
    k = min(k, len(labels) - 1)
    _, index = NearestNeighbors(n_neighbors=k + 1).fit(coordinates).kneighbors(coordinates)
    return float((labels[index[:, 1:]] == labels[:, None]).mean())  # column 0 is the nodule itself


def chance_agreement(labels: np.ndarray) -> float:
    """The neighbour agreement of an embedding that ignores the labels: p² + (1 - p)²."""
    share = float(np.mean(labels))
    return share ** 2 + (1 - share) ** 2


def embeddings(inputs: Inputs, rfe: RfeResult, seed: int = SEED) -> tuple[Embedding, Embedding]:
    """(below-average attributes, all eight) embeddings of the nodules of ``inputs``."""
    if rfe.inputs is not inputs:
        raise ValueError("the RFE result is of other inputs")  # a caller's mistake
    if len(inputs.table) < 4:
        raise AnalysisError(f"the {inputs.title} hold {len(inputs.table)} nodule(s); t-SNE needs at least 4.")
    below = rfe.below_average
    if not below:
        raise AnalysisError(f"no attribute of the {inputs.title} has a below-average importance (all are equal); "
                            "there is nothing for the left embedding.")
    result = []
    for attributes in (below, ATTRIBUTE_NAMES):
        coordinates, perplexity = embed(inputs.table[list(attributes)].to_numpy(), seed)
        agreement = neighbour_agreement(coordinates, inputs.table["label"].to_numpy())
        result.append(Embedding(tuple(attributes), coordinates, perplexity, agreement))
    return result[0], result[1]
