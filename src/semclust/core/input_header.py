"""The columns of an input table, read from its first lines without pandas.

``semclust run`` checks a ``column:NAME`` describer and refuses an empty or header-only file
before it ingests anything; reading the header with the standard library keeps that check
(and so every bad option) within the first second.
"""

from __future__ import annotations

import csv
from pathlib import Path

from semclust.core.errors import SemclustError


def empty_csv_error(source: Path) -> SemclustError:
    return SemclustError(f"{source} is empty: a CSV input needs a header line (an image column, "
                         "a text column, ...) and one row per item")


def check_rows(source: Path, n_rows: int, columns) -> None:
    """A table with a header and no rows is refused with its columns named."""
    if n_rows == 0:
        raise SemclustError(f"{source} has a header ({', '.join(map(str, columns))}) but no rows: "
                            "nothing to ingest")


def _csv_header(source: Path) -> list[str]:
    with open(source, newline="", encoding="utf-8-sig", errors="replace") as handle:
        rows = (row for row in csv.reader(handle) if any(cell.strip() for cell in row))  # pandas skips blank lines
        header = next(rows, None)
        if header is None:
            raise empty_csv_error(source)
        check_rows(source, 0 if next(rows, None) is None else 1, header)
    return header


def input_columns(source: str | Path) -> list[str] | None:
    """The columns of an input file, so that ``run`` can refuse an empty file or a
    ``column:NAME`` it lacks before ingesting anything; None for a folder (or a path that
    :func:`semclust.stages.ingest.read_input` refuses with its own message)."""
    source = Path(source).expanduser()
    suffix = source.suffix.lower()
    if not source.is_file():
        return None
    if suffix == ".csv":
        return _csv_header(source)
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            meta = pq.read_metadata(source)
        except (OSError, ValueError):
            return None  # read_input says what is wrong with it
        names = [str(c) for c in meta.schema.to_arrow_schema().names if not str(c).startswith("__index_level_")]
        check_rows(source, meta.num_rows, names)
        return names
    return None
