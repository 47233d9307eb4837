"""Recursive feature elimination from the eight attributes to the label, repeated over the folds.

What the paper says (section III-D, Table IV): a logistic regression from the
attributes to benign/malignant; features are eliminated recursively by their
coefficients; "in each step ... we kept the correlation coefficients and its
important ratio of the removed feature", and the final importance of each
attribute is obtained "in a nested manner" from those kept ratios. Its
importances sum to 0.99, so they are shares of one.

Our reading, made exact:

1. Each attribute is standardised on the training nodules (so coefficients
   are comparable across rating scales), then scikit-learn's ``RFE`` drops
   one attribute per step, the one whose logistic-regression coefficient has
   the smallest magnitude, until one is left. The elimination order is the
   **rank**: 1 for the attribute kept to the end, 8 for the first removed.
2. At the step an attribute is removed, its **ratio** is its share of the
   coefficient magnitudes of the attributes still in the model,
   ``|c_e| / sum |c|``. (RFE keeps no intermediate model, so the model of
   each step is refitted on the same attributes; it is the same fit.)
3. Nested: the importance still to share starts at 1. The removed attribute
   takes its ratio of what is still to share, and the rest passes on; the
   last attribute takes what remains. So ``importance = ratio x prod(1 -
   earlier ratios)``, the importances of one repetition sum to 1 and their
   average is 1/8.

Repetitions: for every fold present, the nodules of the other folds (the
training set of that fold), so each attribute gets a mean ± standard
deviation over folds. The overall ranking orders attributes by mean rank,
ties broken by mean importance. "Above average" is a mean importance above
the mean of the eight means, as the paper marks it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lidcbench.errors import AnalysisError
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES

from .inputs import Inputs

MAX_ITER = 1000  # lbfgs; the default 100 can stop short on unscaled inputs, these are standardised anyway


def _model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=MAX_ITER)  # L2 with C=1, scikit-learn's default


def eliminate(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rank, importance) of each column of ``features`` for predicting ``labels`` (0/1), as defined above."""
    from sklearn.feature_selection import RFE
    from sklearn.preprocessing import StandardScaler

    features = StandardScaler().fit_transform(np.asarray(features, dtype=float))
    labels = np.asarray(labels)
    n = features.shape[1]
    rank = RFE(_model(), n_features_to_select=1, step=1).fit(features, labels).ranking_.astype(int)
    importance = np.zeros(n)
    to_share = 1.0
    for step in range(n, 1, -1):  # `step` attributes are in the model; the one ranked `step` goes
        kept = np.flatnonzero(rank <= step)
        magnitude = np.abs(_model().fit(features[:, kept], labels).coef_[0])
        removed = int(np.flatnonzero(kept == np.flatnonzero(rank == step)[0])[0])
        assert np.isclose(magnitude[removed], magnitude.min()), "RFE removed an attribute that is not the weakest"
        # All coefficients zero (attributes constant on these nodules): no attribute is ahead, equal shares.
        ratio = magnitude[removed] / magnitude.sum() if magnitude.sum() > 0 else 1.0 / step
        importance[kept[removed]] = ratio * to_share
        to_share *= 1.0 - ratio
    importance[rank == 1] = to_share
    return rank, importance


@dataclass(frozen=True, eq=False)
class RfeResult:
    """``rank`` and ``importance``: one row per fold of ``folds``, one column per attribute."""

    inputs: Inputs
    attributes: tuple[str, ...]
    folds: tuple[int, ...]
    n_train: tuple[int, ...]
    rank: np.ndarray
    importance: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.importance.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """Sample standard deviation over folds (0 with one fold)."""
        return self.importance.std(axis=0, ddof=1) if len(self.folds) > 1 else np.zeros(len(self.attributes))

    @property
    def mean_rank(self) -> np.ndarray:
        return self.rank.mean(axis=0)

    @property
    def ranking(self) -> np.ndarray:
        """Overall position of each attribute (1 = most related): by mean rank, then by mean importance."""
        return overall_ranking(self.mean_rank, self.mean)

    @property
    def above_average(self) -> np.ndarray:
        return above_average(self.mean)

    @property
    def below_average(self) -> tuple[str, ...]:
        """The attributes whose mean importance is below the average: the inputs of the paper's Fig. 5 (left)."""
        mean = self.mean
        return tuple(name for name, value in zip(self.attributes, mean) if value < mean.mean())


def overall_ranking(mean_rank: np.ndarray, importance: np.ndarray) -> np.ndarray:
    order = sorted(range(len(mean_rank)), key=lambda j: (mean_rank[j], -importance[j], j))
    ranking = np.empty(len(order), dtype=int)
    ranking[order] = np.arange(1, len(order) + 1)
    return ranking


def above_average(importance: np.ndarray) -> np.ndarray:
    importance = np.asarray(importance, dtype=float)
    return importance > importance.mean()


def recursive_feature_elimination(inputs: Inputs) -> RfeResult:
    """:func:`eliminate` on the training nodules of every fold in ``inputs``."""
    table = inputs.table
    folds = inputs.folds
    if len(folds) < 2:
        raise AnalysisError(f"the {inputs.title} cover fold(s) {folds or 'none'} only; each repetition fits on the "
                            "other folds' nodules, so at least two folds are needed: run the method with --folds all.")
    ranks, importances, sizes = [], [], []
    for fold in folds:
        train = table[table["fold"] != fold]
        if train["label"].nunique() < 2:
            raise AnalysisError(f"the training nodules of fold {fold} ({inputs.title}) are all of one label; "
                                "the analysis needs benign and malignant nodules in every training set.")
        rank, importance = eliminate(train[list(ATTRIBUTE_NAMES)].to_numpy(), train["label"].to_numpy())
        ranks.append(rank)
        importances.append(importance)
        sizes.append(len(train))
    return RfeResult(inputs, ATTRIBUTE_NAMES, tuple(folds), tuple(sizes), np.array(ranks), np.array(importances))
