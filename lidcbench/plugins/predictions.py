"""Predictions: what a method (or another framework) says about each nodule.

One row per (nodule, slice) the nodule spans, or one row per nodule with no
slice index. Columns: ``nodule_id``, ``slice_index`` (optional; empty or
``none`` for a nodule-level row), ``malignancy`` (probability in [0, 1]) and,
optionally, any of the eight attributes named as in
:data:`lidcbench.protocol.attributes.ATTRIBUTE_NAMES`, on the [0, 1] scale (rating
minus its lowest value, divided by its range). Slice predictions are averaged
per nodule, as in the paper.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lidcbench.errors import PredictionsError
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES
from lidcbench.protocol.cohort import Cohort

VALUE_COLUMNS = ("malignancy", *ATTRIBUTE_NAMES)
KNOWN_COLUMNS = ("nodule_id", "slice_index", *VALUE_COLUMNS)
NODULE_LEVEL = ("", "none", "na", "nan", "<na>")  # slice_index spellings of "the whole nodule"
MAX_LISTED = 8  # offending rows shown per problem; the count is always complete


@dataclass(frozen=True)
class Predictions:
    """Checked predictions (build them with :func:`validate_predictions`).

    ``frame``: nodule_id (str), slice_index (Int64, NA for nodule-level rows),
    malignancy and the attribute columns present (float).
    """

    frame: pd.DataFrame

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes predicted, in the paper's order."""
        return tuple(name for name in ATTRIBUTE_NAMES if name in self.frame.columns)

    @property
    def nodule_ids(self) -> set[str]:
        return set(self.frame["nodule_id"])

    def by_nodule(self) -> pd.DataFrame:
        """The nodule-level prediction: the mean over the nodule's slice rows, indexed by nodule id."""
        values = ["malignancy", *self.attributes]
        return self.frame.groupby("nodule_id", sort=True)[values].mean()


def _listing(rows: Iterable, describe) -> str:
    rows = list(rows)
    shown = ", ".join(describe(row) for row in rows[:MAX_LISTED])
    return shown + (f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else "")


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _slice_indices(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(slice index as Int64 with NA for nodule-level rows, mask of unparseable entries)."""
    text = raw.astype("string").str.strip()
    nodule_level = raw.isna() | text.str.lower().isin(NODULE_LEVEL).fillna(True)
    numbers = pd.to_numeric(text.where(~nodule_level), errors="coerce")
    bad = ~nodule_level & (numbers.isna() | (numbers % 1 != 0) | (numbers < 0))
    return numbers.where(~bad & ~nodule_level).astype("Int64"), bad.astype(bool)


def _id_problems(ids: pd.Series, cohort: Cohort, row_name: str) -> list[str]:
    unknown = ids.index[~ids.isin(set(cohort.table["nodule_id"])).fillna(False).to_numpy(dtype=bool)]
    if not len(unknown):
        return []
    return [f"nodules not in the cohort of protocol {cohort.protocol.hash} ({_count(unknown, row_name)}): "
            + _listing(unknown, lambda r: f"{row_name} {r} ({ids[r]!r})")
            + ". The nodule ids are listed by `lidcbench protocol --export cohort.csv`."]


def _slice_problems(raw: pd.Series, bad: pd.Series, ids: pd.Series, slices: pd.Series, cohort: Cohort,
                    row_name: str) -> list[str]:
    problems = []
    if bad.any():
        rows = raw.index[bad.to_numpy()]
        problems.append(f"slice_index not a whole number >= 0 ({_count(rows, row_name)}; leave it empty for a "
                        "nodule-level prediction): " + _listing(rows, lambda r: f"{row_name} {r} ({raw[r]!r})"))
    spans = dict(zip(cohort.table["nodule_id"], cohort.table["slices"]))
    outside = [r for r, nodule, k in zip(ids.index, ids, slices)
               if nodule in spans and k is not pd.NA and int(k) not in spans[nodule]]
    if outside:
        problems.append(f"slices the nodule does not span ({_count(outside, row_name)}; slice indices are "
                        "pylidc's, the export's `slices` column lists each nodule's): "
                        + _listing(outside, lambda r: f"{row_name} {r} ({ids[r]} slice {slices[r]})"))
    return problems


def _numbers(raw: pd.Series) -> pd.Series:
    text = raw.astype("string").str.strip() if raw.dtype == object or pd.api.types.is_string_dtype(raw) else raw
    return pd.to_numeric(text, errors="coerce").astype(float)


def _value_problems(raw: pd.Series, numbers: pd.Series, row_name: str) -> list[str]:
    column, problems = raw.name, []
    not_number = raw.index[numbers.isna().to_numpy()]
    out_of_range = raw.index[((numbers < 0) | (numbers > 1)).to_numpy()]
    if len(not_number):
        problems.append(f"no number in {column} ({_count(not_number, row_name)}; empty, NaN or text): "
                        + _listing(not_number, lambda r: f"{row_name} {r} ({raw[r]!r})"))
    if len(out_of_range):
        what = "a probability" if column == "malignancy" else "on the [0, 1] scale"
        problems.append(f"{column} outside [0, 1] ({_count(out_of_range, row_name)}; {column} is {what}): "
                        + _listing(out_of_range, lambda r: f"{row_name} {r} ({numbers[r]:g})"))
    return problems


def _which_slice(parsed: pd.DataFrame, row) -> str:
    slice_index = parsed.at[row, "slice_index"]
    return "nodule-level row (no slice_index)" if pd.isna(slice_index) else f"slice {slice_index}"


def _layout_problems(parsed: pd.DataFrame, row_name: str) -> list[str]:
    """Each (nodule, slice) once, and a nodule either whole or by slices."""
    problems = []
    duplicated = parsed.index[parsed.duplicated(["nodule_id", "slice_index"], keep=False).to_numpy()]
    if len(duplicated):
        problems.append(f"repeated (nodule_id, slice_index) pairs ({_count(duplicated, row_name)}): " + _listing(
            duplicated, lambda r: f"{row_name} {r} ({parsed.at[r, 'nodule_id']} {_which_slice(parsed, r)})"))
    whole = parsed["slice_index"].isna().groupby(parsed["nodule_id"]).any()
    per_slice = parsed["slice_index"].notna().groupby(parsed["nodule_id"]).any()
    mixed = sorted(whole.index[(whole & per_slice).to_numpy()])
    if mixed:
        problems.append(f"nodules with both a nodule-level row and slice rows ({_count(mixed, 'nodule')}; give "
                        "one or the other): " + _listing(mixed, str))
    return problems


def _missing_problems(ids: pd.Series, cohort: Cohort, folds, required_folds: Iterable[int]) -> list[str]:
    required = sorted(set(required_folds))
    needed = cohort.table.loc[folds.assign(cohort).isin(required).to_numpy(), "nodule_id"]
    absent = sorted(set(needed) - set(ids.dropna()))
    if not absent:
        return []
    return [f"nodules of fold(s) {', '.join(map(str, required))} without a prediction ({_count(absent, 'nodule')}; "
            "predict every nodule of each fold, or score fewer folds with --folds): " + _listing(absent, str)]


def validate_predictions(frame: pd.DataFrame, cohort: Cohort, folds=None,
                         required_folds: Iterable[int] | None = None) -> Predictions:
    """Check ``frame`` against ``cohort`` and return :class:`Predictions`, or raise one
    :class:`PredictionsError` that lists every kind of problem with its offending rows.

    ``required_folds`` (with ``folds``, a :class:`lidcbench.protocol.folds.Folds`): every
    cohort nodule of these folds must have a prediction.
    """
    missing_columns = [c for c in ("nodule_id", "malignancy") if c not in frame.columns]
    unknown_columns = [c for c in frame.columns if c not in KNOWN_COLUMNS]
    if missing_columns or unknown_columns or frame.empty:
        raise PredictionsError(
            f"predictions need the columns nodule_id and malignancy (optional: slice_index, "
            f"{', '.join(ATTRIBUTE_NAMES)}); "
            + (f"missing {missing_columns}; " if missing_columns else "")
            + (f"unknown {unknown_columns}; " if unknown_columns else "")
            + ("there are no rows; " if frame.empty else "")
            + "see README 'Scoring your own predictions'."
        )
    if required_folds is not None and folds is None:
        raise ValueError("required_folds needs the folds that assign them")  # a caller's mistake
    row_name = frame.index.name or "row"
    if not frame.index.is_unique:
        frame = frame.reset_index(drop=True)  # rows must be nameable one by one
    ids = frame["nodule_id"].astype("string").str.strip()
    if "slice_index" in frame.columns:
        slices, bad_slices = _slice_indices(frame["slice_index"])
    else:  # every row a nodule-level prediction
        slices, bad_slices = pd.Series(pd.NA, index=frame.index, dtype="Int64"), pd.Series(False, index=frame.index)
    values = {column: _numbers(frame[column]) for column in VALUE_COLUMNS if column in frame.columns}
    checked = pd.DataFrame({"nodule_id": ids, "slice_index": slices, **values}, index=frame.index)

    problems = _id_problems(ids, cohort, row_name)
    if "slice_index" in frame.columns:
        problems += _slice_problems(frame["slice_index"], bad_slices, ids, slices, cohort, row_name)
    for column, numbers in values.items():
        problems += _value_problems(frame[column], numbers, row_name)
    problems += _layout_problems(checked[~bad_slices.to_numpy()], row_name)
    if required_folds is not None:
        problems += _missing_problems(ids, cohort, folds, required_folds)
    if problems:
        raise PredictionsError(f"{len(problems)} problem(s) in the predictions, nothing was scored:\n- "
                               + "\n- ".join(problems))
    return Predictions(checked.reset_index(drop=True).astype({"nodule_id": str}))


def read_predictions_csv(path: str | Path) -> pd.DataFrame:
    """Read a predictions CSV as text, rows indexed by file line, for :func:`validate_predictions`."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise PredictionsError(f"cannot read predictions from {path} ({error}); it should be a CSV file with "
                               "a header line, see README 'Scoring your own predictions'.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")  # line 1 is the header
    return frame


