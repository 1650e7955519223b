"""Reading what coders filled in: sample CSVs, interpretability answers and keys.

Here, below both :mod:`semclust.validation.sampling` (which writes the samples) and the evaluation
sections (which score them), so that neither has to import the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError


class SamplingError(SemclustError, ValueError):
    """A sample cannot be drawn or read as asked; the message names the value."""


def cluster_labels(assignments: pd.DataFrame) -> pd.Series:
    """Cluster (int, -1 = outlier) by id, for the items a run clustered."""
    missing = [c for c in ("id", "cluster") if c not in assignments.columns]
    if missing:
        raise SamplingError(f"assignments lack the column(s) {missing}")
    rows = assignments[assignments["cluster"].notna()]
    return pd.Series(
        rows["cluster"].astype(int).to_numpy(),
        index=pd.Index(rows["id"].astype(str), name="id"),
        name="cluster",
    )


# --- reading coded samples back --------------------------------------------------------------


def read_csv(path: Path, what: str, **options) -> pd.DataFrame:
    """A CSV file as text columns, or an error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise SamplingError(f"{what} file not found: {path}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SamplingError(f"cannot read the {what} file {path}: {exc}") from exc


def letters_path(key: Path) -> Path:
    """The letters file written beside ``<prefix>-key.csv``."""
    key = Path(key)
    stem = key.name.removesuffix("-key.csv")
    return key.with_name(f"{stem}-letters.csv")


@dataclass(frozen=True)
class InterpretabilityAnswers:
    """Evaluators' answers turned into the table :func:`score_interpretability` takes."""

    table: pd.DataFrame
    evaluators: list[str]
    clusters: list[int]
    run: str | None
    n_unanswered: int


def read_interpretability(
    answers: Path, key: Path, letters: Path | None = None
) -> InterpretabilityAnswers:
    """Join the answers (letters) to the key, translating letters into clusters.

    ``letters`` defaults to the ``<prefix>-letters.csv`` beside ``<prefix>-key.csv``.
    Sets nobody answered yet are left out and counted in ``n_unanswered``.

    Raises
    ------
    SamplingError
        A missing column, a set id not in the key or given twice, or a letter that was
        not offered, naming the line and column.
    """
    answers, key = Path(answers), Path(key)
    letters = Path(letters) if letters is not None else letters_path(key)
    answer_table = _read_table(answers, "answers", ("set_id",))
    key_table = _read_table(key, "key", ("set_id", "true_cluster"))
    letter_table = _read_table(letters, "letters", ("letter", "cluster"))
    evaluators = [c for c in answer_table.columns if c != "set_id"]
    if not evaluators:
        raise SamplingError(f"{answers.name} has no evaluator column beside set_id")
    offered = letter_table["letter"].str.strip().str.upper()
    to_cluster = dict(zip(offered, _whole(letter_table, "cluster", letters.name), strict=True))
    set_ids = key_table["set_id"].str.strip()
    truth = dict(zip(set_ids, _whole(key_table, "true_cluster", key.name), strict=True))
    table = _translate(answer_table, evaluators, to_cluster, truth, answers.name)
    answered = table[evaluators].notna().any(axis=1)
    runs = key_table["run"].unique().tolist() if "run" in key_table.columns else [""]
    return InterpretabilityAnswers(
        table=table[answered].reset_index(drop=True),
        evaluators=evaluators,
        clusters=sorted(to_cluster.values()),
        run=runs[0] or None,
        n_unanswered=int((~answered).sum()),
    )


def _read_table(path: Path, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    table = read_csv(path, what)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise SamplingError(
            f"{path.name} lacks the column(s) {missing}; it has {list(table.columns)}"
        )
    return table


def _whole(table: pd.DataFrame, column: str, name: str) -> list[int]:
    """A column of cluster ids as ints, or an error naming the line."""
    numbers = pd.to_numeric(table[column].str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise SamplingError(
            f"line {line} of {name}: {column} {table[column].iloc[line - 2]!r} is not a cluster id"
        )
    return numbers.astype(int).tolist()


def _translate(
    answers: pd.DataFrame, evaluators, to_cluster: dict, truth: dict, name: str
) -> pd.DataFrame:
    """``set_id``, ``true_cluster`` and each evaluator's chosen cluster (NA = not answered)."""
    seen = set()
    rows = []
    for line, record in enumerate(answers.to_dict(orient="records"), start=2):
        set_id = record["set_id"].strip()
        if set_id not in truth:
            raise SamplingError(f"line {line} of {name}: set {set_id!r} is not in the key")
        if set_id in seen:
            raise SamplingError(f"line {line} of {name}: set {set_id!r} is answered twice")
        seen.add(set_id)
        row = {"set_id": set_id, "true_cluster": truth[set_id]}
        for evaluator in evaluators:
            letter = record[evaluator].strip().upper()
            if letter and letter not in to_cluster:
                raise SamplingError(
                    f"line {line} of {name}, column {evaluator!r}: {record[evaluator]!r} is not "
                    f"one of the letters offered ({', '.join(to_cluster)})"
                )
            row[evaluator] = to_cluster[letter] if letter else pd.NA
        rows.append(row)
    return pd.DataFrame(rows, columns=["set_id", "true_cluster", *evaluators])
