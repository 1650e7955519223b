"""Human-coded image pairs: the file format, its validation, and matching pairs to a run.

Validation scores a clustering against judgements people made about *pairs* of images
without seeing the clusters (Arminio et al. 2024, section 2; Casas et al., section 2.4).
This module reads those judgements once, checks them, and says for every pair whether a
run put its two images in the same cluster.

File convention
---------------
A codes file is a CSV file (or a DataFrame) with one row per coded pair::

    id_a,id_b,denotative_ann,denotative_bob,connotative_ann,connotative_bob,note
    img01,img02,0,1,2,2,
    img01,img07,2,2,1,,"bob skipped it"

``id_a``, ``id_b``
    The two images, as in the ``id`` column of the run's assignments. Each pair appears
    once (not again as ``id_b,id_a``) and never pairs an image with itself.
``<dimension>_<coder>``
    One coder's code on one dimension. The dimensions are

    * ``denotative`` and ``connotative``: the 3-point scale of Arminio et al.,
      unrelated / loosely related / closely related, written 0/1/2 or 1/2/3 (see
      ``scale`` in :func:`load_codes`) and always stored as 0/1/2;
    * ``same``: a binary judgement that the two images belong together (1) or not (0),
      as in Casas et al.

    Coders' codes are whole numbers; an empty cell is a pair that coder did not code.
``<dimension>`` alone
    An agreed code (e.g. from a consensus session), preferred over the coders' codes
    when present. It may be fractional (e.g. a mean), but must lie on the scale.

Any other column (``note`` above) is kept and ignored. One file uses one scale for both
graded dimensions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError

#: Dimensions coded on the 3-point scale (stored as 0 unrelated, 1 loosely, 2 closely related).
GRADED_DIMENSIONS = ("denotative", "connotative")
#: Dimensions coded as 0 (different) / 1 (belong together).
BINARY_DIMENSIONS = ("same",)
DIMENSIONS = GRADED_DIMENSIONS + BINARY_DIMENSIONS
#: Highest code of a graded dimension on the stored 0-2 scale.
TOP_CODE = 2
#: Cluster label of HDBSCAN outliers (noise).
OUTLIER = -1

Scale = Literal["auto", "0-2", "1-3"]
#: What each written scale subtracts to reach the stored 0-2 scale.
_SCALE_OFFSETS = {"0-2": 0, "1-3": 1}
_CODE_COLUMN = re.compile(rf"^({'|'.join(DIMENSIONS)})(?:_(.+))?$")

#: Why a pair does or does not count, from :func:`match_pairs`.
SAME, DIFFERENT, UNCLUSTERED, UNDESCRIBED = "same", "different", "outlier", "no_description"


class EvaluationInputError(SemclustError, ValueError):
    """Codes, assignments or evaluation tables that cannot be scored as given."""


@dataclass(frozen=True)
class CodedPairs:
    """Validated coded pairs, codes on the stored scale; build it with :func:`load_codes`.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``id_a``, ``id_b`` (str) and the code columns (float, NaN = not coded).
    scale : str or None
        The scale the graded codes were written on (``"0-2"`` or ``"1-3"``); None when
        the file has no graded codes.
    origin : str or None
        The file the codes came from, to name lines in error messages.
    """

    frame: pd.DataFrame
    scale: str | None = None
    origin: str | None = None

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Dimensions with at least one column, in the order of :data:`DIMENSIONS`."""
        present = {_dimension(c) for c in self.frame.columns if _is_code(c)}
        return tuple(d for d in DIMENSIONS if d in present)

    def coder_columns(self, dimension: str) -> list[str]:
        """The ``<dimension>_<coder>`` columns, in file order."""
        return [
            c
            for c in self.frame.columns
            if _is_code(c) and c != dimension and _dimension(c) == dimension
        ]

    def consensus_column(self, dimension: str) -> str | None:
        """The agreed-code column of ``dimension``, or None when the file has none."""
        return dimension if dimension in self.frame.columns else None

    def ratings(self, dimension: str) -> pd.DataFrame:
        """Coders' codes of ``dimension``: one row per pair, one column per coder name."""
        columns = self.coder_columns(dimension)
        return self.frame[columns].rename(columns=lambda c: c[len(dimension) + 1 :])

    def where(self, position: int) -> str:
        """Name the pair at ``position`` for a message: its line in the file and its ids."""
        row = self.frame.iloc[position]
        return _where(position, self.origin) + f" (id_a={row['id_a']!r}, id_b={row['id_b']!r})"


def load_codes(
    source: CodedPairs | pd.DataFrame | str | PathLike, *, scale: Scale = "auto"
) -> CodedPairs:
    """Read and validate coded pairs, mapping graded codes to the stored 0-2 scale.

    Parameters
    ----------
    source : CodedPairs, DataFrame, or path of a CSV file
        The codes (see the module docstring for the columns). A :class:`CodedPairs` is
        returned unchanged, so functions can accept either.
    scale : {"auto", "0-2", "1-3"}
        How the graded codes are written. ``"auto"`` decides from the codes: any 0 means
        0-2, any 3 means 1-3; codes that are all 1 or 2 fit both, and raise.

    Returns
    -------
    CodedPairs

    Raises
    ------
    EvaluationInputError
        Missing columns, no rows, a missing id, an image paired with itself, a pair coded
        twice (also as b,a), a code that is not a number, not whole, or off the scale.
    """
    if isinstance(source, CodedPairs):
        return source
    frame, origin = _read(source)
    _check_ids(frame, origin)
    columns = [c for c in frame.columns if _is_code(c)]
    if not columns:
        raise EvaluationInputError(
            f"{origin or 'the codes'} has no code column: expected columns named "
            f"{', '.join(DIMENSIONS)} (agreed codes) or <dimension>_<coder>, e.g. "
            f"'connotative_coder1'; found {list(frame.columns)}"
        )
    for column in columns:
        frame[column] = _numeric(frame[column], column, origin)
    _check_binary(frame, [c for c in columns if _dimension(c) in BINARY_DIMENSIONS], origin)
    graded = [c for c in columns if _dimension(c) in GRADED_DIMENSIONS]
    _check_whole(frame, [c for c in graded if c not in GRADED_DIMENSIONS], origin)
    used = _resolve_scale(frame, graded, scale, origin)
    if used is not None:
        _check_range(frame, graded, _SCALE_OFFSETS[used], origin)
        frame[graded] = frame[graded] - _SCALE_OFFSETS[used]
    return CodedPairs(frame=frame, scale=used, origin=origin)


def index_assignments(assignments: pd.DataFrame, what: str = "assignments") -> pd.DataFrame:
    """Check a run's assignments and index them by id (as str) for look-ups.

    ``what`` names the table in error messages.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``id``, with ``cluster`` (nullable Int64; NA = not clustered) and
        ``described`` (False where the ``description`` column exists and is empty).

    Raises
    ------
    EvaluationInputError
        Not a DataFrame, no rows, no ``id`` or ``cluster`` column, a missing or
        duplicated id, or a cluster label that is not a whole number.
    """
    if not isinstance(assignments, pd.DataFrame):
        raise EvaluationInputError(f"{what} must be a DataFrame, got {type(assignments).__name__}")
    _require_columns(assignments, ("id", "cluster"), what)
    if assignments.empty:
        raise EvaluationInputError(f"{what} has no rows: there is nothing to score")
    if (position := _first(assignments["id"].isna())) is not None:
        raise EvaluationInputError(f"{what} row {position} has no id")
    ids = assignments["id"].astype(str)
    if (position := _first(ids.duplicated())) is not None:
        raise EvaluationInputError(
            f"{what} row {position}: id {ids.iloc[position]!r} appears more than once"
        )
    clusters = pd.to_numeric(assignments["cluster"], errors="coerce")
    not_whole = clusters.isna() & assignments["cluster"].notna()
    if (position := _first(not_whole | (clusters.notna() & (clusters % 1 != 0)))) is not None:
        raise EvaluationInputError(
            f"{what} row {position} (id {ids.iloc[position]!r}): cluster "
            f"{_plain(assignments['cluster'].iloc[position])!r} is not a whole number"
        )
    if "description" in assignments.columns:
        text = assignments["description"]
        described = text.notna() & (text.astype(str).str.strip() != "")
    else:
        described = pd.Series(True, index=assignments.index)
    return pd.DataFrame(
        {"cluster": clusters.astype("Int64").to_numpy(), "described": described.to_numpy()},
        index=pd.Index(ids.to_numpy(), name="id"),
    )


def match_pairs(assignments: pd.DataFrame, codes: CodedPairs) -> pd.Series:
    """Say for each coded pair whether the run put it in the same cluster.

    A pair counts in neither group when one of its images has no description
    (``"no_description"``) or is an outlier or unclustered (``"outlier"``), as in
    Arminio et al. (section 2).

    Returns
    -------
    pandas.Series
        One of ``"same"``, ``"different"``, ``"outlier"``, ``"no_description"`` per row of
        ``codes.frame``.

    Raises
    ------
    EvaluationInputError
        A pair names an image that is not in the assignments.
    """
    table = index_assignments(assignments)
    for side in ("id_a", "id_b"):
        if (position := _first(~codes.frame[side].isin(table.index))) is not None:
            raise EvaluationInputError(
                f"{codes.where(position)}: image {codes.frame[side].iloc[position]!r} is not "
                "in the run's assignments (check that codes and run cover the same images)"
            )
    a = table.loc[codes.frame["id_a"]].reset_index(drop=True)
    b = table.loc[codes.frame["id_b"]].reset_index(drop=True)
    unclustered = a["cluster"].isna() | b["cluster"].isna()
    unclustered |= (a["cluster"] == OUTLIER) | (b["cluster"] == OUTLIER)
    same = (a["cluster"] == b["cluster"]).fillna(False).to_numpy(dtype=bool)
    status = np.where(same, SAME, DIFFERENT).astype(object)
    status[unclustered.fillna(True).to_numpy(dtype=bool)] = UNCLUSTERED
    status[~(a["described"] & b["described"]).to_numpy(dtype=bool)] = UNDESCRIBED
    return pd.Series(status, index=codes.frame.index, name="status")


def _read(source: pd.DataFrame | str | PathLike) -> tuple[pd.DataFrame, str | None]:
    """The codes as a fresh DataFrame with a 0..n-1 index, and the file name if any."""
    if isinstance(source, pd.DataFrame):
        frame, origin = source.copy(), None
    elif isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.is_file():
            raise EvaluationInputError(f"codes file not found: {path}")
        # ids stay text: "007" must not become 7
        frame, origin = pd.read_csv(path, dtype={"id_a": str, "id_b": str}), path.name
    else:
        raise EvaluationInputError(
            f"codes must be a DataFrame or a CSV path, got {type(source).__name__}"
        )
    _require_columns(frame, ("id_a", "id_b"), origin or "the codes")
    if frame.empty:
        raise EvaluationInputError(f"{origin or 'the codes'} has no rows: no pair is coded")
    return frame.reset_index(drop=True), origin


def _check_ids(frame: pd.DataFrame, origin: str | None) -> None:
    """Ids present; no image paired with itself; no pair twice, in either order."""
    for side in ("id_a", "id_b"):
        if (position := _first(frame[side].isna())) is not None:
            raise EvaluationInputError(f"{_where(position, origin)}: {side} is empty")
        frame[side] = frame[side].astype(str)
    if (position := _first(frame["id_a"] == frame["id_b"])) is not None:
        raise EvaluationInputError(
            f"{_where(position, origin)}: pairs image {frame['id_a'].iloc[position]!r} with itself"
        )
    first: dict[tuple[str, str], int] = {}
    for position, (id_a, id_b) in enumerate(zip(frame["id_a"], frame["id_b"], strict=True)):
        pair = (id_a, id_b) if id_a < id_b else (id_b, id_a)
        if pair in first:
            raise EvaluationInputError(
                f"{_where(position, origin)}: the pair {pair[0]!r}, {pair[1]!r} is coded "
                f"twice (first at {_where(first[pair], origin)}); merge the two rows"
            )
        first[pair] = position


def _numeric(values: pd.Series, column: str, origin: str | None) -> pd.Series:
    """Codes as floats (NaN = not coded); text that is not a number raises."""
    numbers = pd.to_numeric(values, errors="coerce")
    if (position := _first(numbers.isna() & values.notna())) is not None:
        raise EvaluationInputError(
            f"{_where(position, origin)}: {column} is {values.iloc[position]!r}, not a number"
        )
    return numbers.astype(float)


def _check_binary(frame: pd.DataFrame, columns: list[str], origin: str | None) -> None:
    for column in columns:
        _raise_first(frame, column, ~frame[column].isin([0, 1]), "is not 0 or 1", origin)


def _check_whole(frame: pd.DataFrame, columns: list[str], origin: str | None) -> None:
    for column in columns:
        _raise_first(frame, column, frame[column] % 1 != 0, "is not a whole number", origin)


def _check_range(frame: pd.DataFrame, columns: list[str], offset: int, origin: str | None):
    low, high = offset, offset + TOP_CODE
    for column in columns:
        off_scale = (frame[column] < low) | (frame[column] > high)
        _raise_first(frame, column, off_scale, f"is outside the scale {low}-{high}", origin)


def _raise_first(frame, column: str, bad: pd.Series, problem: str, origin: str | None):
    """Raise for the first coded row that ``bad`` flags."""
    if (position := _first(bad & frame[column].notna())) is not None:
        value = frame[column].iloc[position]
        raise EvaluationInputError(f"{_where(position, origin)}: {column} = {value:g} {problem}")


def _resolve_scale(
    frame: pd.DataFrame, columns: list[str], scale: str, origin: str | None
) -> str | None:
    """The scale the graded codes use: the one given, or the one the codes show."""
    if scale != "auto":
        if scale not in _SCALE_OFFSETS:
            raise EvaluationInputError(f"scale must be 'auto', '0-2' or '1-3', not {scale!r}")
        return scale
    values = frame[columns].to_numpy(dtype=float).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    low, high = values.min(), values.max()
    if low < 1 and high > TOP_CODE:
        raise EvaluationInputError(
            f"graded codes fit neither the 0-2 nor the 1-3 scale: "
            f"{_first_code(frame, columns, frame[columns] < 1, origin)} but "
            f"{_first_code(frame, columns, frame[columns] > TOP_CODE, origin)}"
        )
    if low < 1:
        return "0-2"
    if high > TOP_CODE:
        return "1-3"
    raise EvaluationInputError(
        f"{origin or 'the codes'}: every graded code is 1 or 2, which fits both the 0-2 and "
        "the 1-3 scale; say which with scale='0-2' or scale='1-3'"
    )


def _first_code(frame: pd.DataFrame, columns: list[str], hits: pd.DataFrame, origin) -> str:
    """Describe the first code that ``hits`` flags, as "line 4 of x.csv has connotative = 5"."""
    position = _first(hits.any(axis=1))
    column = columns[_first(hits.iloc[position])]
    return f"{_where(position, origin)} has {column} = {frame[column].iloc[position]:g}"


def _require_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise EvaluationInputError(
            f"{what} lacks the column(s) {missing}; it has {list(frame.columns)}"
        )


def _first(mask: pd.Series | np.ndarray) -> int | None:
    """Position of the first True in ``mask``, or None: errors name the first bad row."""
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(hits[0]) if hits.size else None


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so messages show 7, not np.int64(7)."""
    return value.item() if isinstance(value, np.generic) else value


def _where(position: int, origin: str | None) -> str:
    """A row as a person finds it: the line of the CSV file (header = line 1), or the row."""
    return f"line {position + 2} of {origin}" if origin else f"row {position}"


def _is_code(column: object) -> bool:
    return isinstance(column, str) and _CODE_COLUMN.match(column) is not None


def _dimension(column: str) -> str:
    return _CODE_COLUMN.match(column).group(1)
