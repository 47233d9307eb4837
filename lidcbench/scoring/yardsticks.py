"""The references beside every attribute error, on the same test nodules.

A model's attribute error means little alone: the readers disagree with one
another, and on some attributes a constant already beats that disagreement.
So three references are computed from the test nodules' own ratings:

- ``inter_observer``: mean absolute difference over all reader pairs (the
  paper's IB row);
- ``reader_vs_others``: each reader against the mean of the other readers of
  the same nodule, the fair human reference for a model that predicts the
  readers' mean;
- ``constant``: the training folds' mean rating predicted for every nodule.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from lidcbench.protocol.attributes import ATTRIBUTES
from lidcbench.protocol.card import inter_observer

from .readers.pairs import reader_pairs


def reader_vs_others(table: pd.DataFrame, rating: str, pairs: pd.DataFrame | None = None) -> float | None:
    """Mean |reader - mean of the other readers|, pooled over every reader of every nodule with two or more
    (the leave-one-reader-out ``pairs`` of ``table``, built here unless given)."""
    pairs = reader_pairs(table) if pairs is None else pairs
    if pairs.empty:
        return None
    return float((pairs[f"reader_{rating}"] - pairs[f"others_{rating}"]).abs().mean())


def attribute_yardsticks(test_table: pd.DataFrame, train_table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Per attribute, on the original rating scale: the three references on ``test_table``."""
    pairwise = inter_observer(test_table)
    pairs = reader_pairs(test_table)
    result = {}
    for attribute in ATTRIBUTES:
        name = attribute.name
        constant = float(train_table[name].mean())
        observed = pairwise[name]["mean_abs_diff"]
        result[name] = {
            "inter_observer": None if np.isnan(observed) else observed,
            "reader_vs_others": reader_vs_others(test_table, name, pairs),
            "constant": float((test_table[name] - constant).abs().mean()),
            "constant_value": constant,
        }
    return result
