"""The table an analysis reads: one row per clustered item, its cluster, group, period, outcome.

Every check on the user's columns lives here, so each bad input stops with one clear
:class:`SemclustError` line before anything is computed or written, and every row left out
(missing group, missing date, not clustered) is counted in :attr:`AnalysisData.notes`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError

log = logging.getLogger(__name__)

#: ``--freq`` names and the pandas period codes they stand for.
FREQUENCIES = {"day": "D", "week": "W", "month": "M", "year": "Y"}
OUTLIER_MODES = ("exclude", "cluster")
#: A group with fewer items than this is warned about and flagged, never dropped.
MIN_GROUP_SIZE = 30
_SHOWN_ROWS = 5


@dataclass
class AnalysisData:
    """Rows ready to analyse: ``cluster`` (int), and ``group``, ``period``, ``outcome`` when asked."""

    rows: pd.DataFrame
    names: dict[int, str]
    notes: list[str] = field(default_factory=list)
    small_groups: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        log.info(text)
        self.notes.append(text)


def prepare(assignments: pd.DataFrame, names: dict[int, str], *, by: str | None = None,
            time: str | None = None, freq: str = "month", outcome: str | None = None,
            controls: tuple[str, ...] = (), outliers: str = "exclude",
            min_group_size: int = MIN_GROUP_SIZE) -> AnalysisData:
    """Check the columns asked for and keep the rows every estimate can use."""
    if outliers not in OUTLIER_MODES:
        raise SemclustError(f"outliers={outliers!r}: choose one of {', '.join(OUTLIER_MODES)}")
    if freq not in FREQUENCIES:
        raise SemclustError(f"freq={freq!r}: choose one of {', '.join(FREQUENCIES)}")
    for role, column in (("by", by), ("time", time), ("outcome", outcome), *(("controls", c) for c in controls)):
        if column is not None and column not in assignments.columns:
            raise SemclustError(f"{role}={column!r}: the run's items have no such column "
                                f"(columns: {', '.join(map(str, assignments.columns))})")
    data = AnalysisData(pd.DataFrame(index=assignments.index), dict(names))
    table = assignments
    unclustered = table["cluster"].isna()
    if unclustered.any():
        data.note(f"{int(unclustered.sum())} items were not clustered (no description) and are left out")
    table = table[~unclustered]
    labels = table["cluster"].astype(int)
    if outliers == "exclude":
        if (labels == -1).any():
            data.note(f"{int((labels == -1).sum())} outliers (cluster -1) are left out; "
                      "shares are of the clustered items")
        table, labels = table[labels != -1], labels[labels != -1]
    else:
        data.names[-1] = "outliers"
    rows = pd.DataFrame({"id": table["id"].astype(str).to_numpy(), "cluster": labels.to_numpy()},
                        index=table.index)
    for column in ("description", "probability"):
        if column in table.columns:
            rows[column] = table[column].to_numpy()
    keep = pd.Series(True, index=rows.index)
    if by is not None:
        group = _text_column(table[by])
        keep &= _count_missing(data, group.isna(), by)
        rows["group"] = group
    if time is not None:
        rows["period"] = _periods(table["id"], table[time], time, freq)
        keep &= _count_missing(data, rows["period"].isna(), time)
    for column in (outcome, *controls):
        if column is not None:
            rows[column] = _numeric(table["id"], table[column], column)
            keep &= _count_missing(data, rows[column].isna(), column, soft=True)
    data.rows = rows[keep].reset_index(drop=True)
    if data.rows.empty:
        raise SemclustError("no items left to analyse after leaving out outliers and missing values")
    if by is not None:
        _check_groups(data, by, min_group_size)
    return data


def _text_column(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _count_missing(data: AnalysisData, missing: pd.Series, column: str, soft: bool = False) -> pd.Series:
    """Note how many rows lack ``column``; ``soft`` columns (outcome, controls) drop them only in the model."""
    n = int(missing.sum())
    if n:
        where = "from the regression" if soft else "from the analysis"
        data.note(f"{n} items have no value in {column!r} and are left out {where}")
    return pd.Series(True, index=missing.index) if soft else ~missing


def _periods(ids: pd.Series, values: pd.Series, column: str, freq: str) -> pd.Series:
    text = _text_column(values)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    bad = text.notna() & parsed.isna()
    if bad.any():
        shown = ", ".join(f"{i} ({v!r})" for i, v in zip(ids[bad][:_SHOWN_ROWS], text[bad][:_SHOWN_ROWS],
                                                            strict=True))
        raise SemclustError(f"time={column!r}: {int(bad.sum())} values are not dates, e.g. items {shown}")
    periods = parsed.dt.tz_localize(None).dt.to_period(FREQUENCIES[freq]).astype("string")
    return periods.where(parsed.notna())


def _numeric(ids: pd.Series, values: pd.Series, column: str) -> pd.Series:
    text = values if pd.api.types.is_numeric_dtype(values) else _text_column(values)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & numbers.isna()
    if bad.any():
        shown = ", ".join(f"{i} ({v!r})" for i, v in zip(ids[bad][:_SHOWN_ROWS], text[bad][:_SHOWN_ROWS],
                                                            strict=True))
        raise SemclustError(f"{column!r} must be numeric: {int(bad.sum())} values are not numbers, "
                            f"e.g. items {shown}")
    return numbers.astype(float)


def _check_groups(data: AnalysisData, by: str, min_group_size: int) -> None:
    sizes = data.rows["group"].value_counts()
    if len(sizes) < 2:
        only = f"({sizes.index[0]!r})" if len(sizes) else "(none)"
        raise SemclustError(f"by={by!r} has one value {only} among {len(data.rows)} items: "
                            "there are no groups to compare")
    small = sizes[sizes < min_group_size]
    data.small_groups = [str(g) for g in small.index]
    for group, n in small.items():
        data.note(f"group {group!r} has only {n} items (< {min_group_size}): its shares are shown "
                  "but have wide intervals")


def codes(values: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes and the sorted levels of ``values``."""
    levels = sorted(values.unique(), key=str)
    return pd.Categorical(values, categories=levels).codes.astype(int), levels
