"""Coders' answers as the files the evaluation reads.

* pairs -> the codes file of :mod:`semclust.validation.evaluate.codes` (``id_a``, ``id_b``,
  ``<dimension>_<coder>`` on the stored 0-2 scale), read by ``semclust evaluate --codes``;
* interpretability -> the evaluators' letters in the layout of the sample's
  ``-answers.csv`` (``set_id`` and one column per evaluator), read by ``semclust evaluate
  --interpretability FILE --key KEY``; or, with ``clusters=True``, the table
  :func:`semclust.validation.evaluate.score_interpretability` takes (``set_id``, ``true_cluster``
  from the key, each evaluator's chosen cluster);
* consistency -> ``id``, ``cluster`` (when the sample had it) and ``theme_<coder>``, read by
  ``semclust evaluate --consistency``;
* ratings -> one row per image and coder: ``id``, ``cluster``, ``coder``, the coder's
  attributes (their group) and one column per scale, read by ``semclust evaluate
  --ratings``; the scales go in a JSON sidecar beside it (:func:`ratings_sidecar`).

Only units that at least one coder answered are written, and only coders with at least
one answer (removed coders never); a skip is an empty cell.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from semclust.validation.annotate.scales import scale_settings
from semclust.validation.annotate.tasks import (
    AnnotationError,
    AnnotationStore,
    Answer,
    Coder,
    Task,
    task_scales,
)

log = logging.getLogger(__name__)


def export_answers(store: AnnotationStore, name: str, *, clusters: bool = False) -> pd.DataFrame:
    """The answers to task ``name`` as the table its evaluation reads (see the module doc)."""
    task = store.task(name)
    answers = store.answers(task)
    answering = {a.coder for a in answers if a.status == "answered"}
    if not answering:
        raise AnnotationError(f"task {name!r} has no answers yet: nothing to export")
    coders = [c for c in store.coders(task) if c in answering]
    if task.kind == "ratings":
        return rating_table(task, store.coder_rows(task), answers)
    if task.kind == "pairs":
        return pair_codes(task, coders, answers)
    if task.kind == "interpretability":
        if clusters:
            return interpretability_table(task, coders, answers)
        return interpretability_letters(task, coders, answers)
    return consistency_themes(task, coders, answers)


def pair_codes(task: Task, coders: Sequence[str], answers: Sequence[Answer]) -> pd.DataFrame:
    """``pair``, ``id_a``, ``id_b`` and ``<dimension>_<coder>`` codes (0-2; 0/1 for same)."""
    dimensions = task.spec.settings["dimensions"]
    table = _frame(
        task, answers, lambda u: {"pair": u.unit, "id_a": u.items[0], "id_b": u.items[1]}
    )
    for dimension in dimensions:
        for coder in coders:
            table[f"{dimension}_{coder}"] = _values(table, answers, coder, dimension, "Int64")
    return table.drop(columns="position")


def interpretability_letters(
    task: Task, coders: Sequence[str], answers: Sequence[Answer]
) -> pd.DataFrame:
    """``set_id`` and each evaluator's letter: the sample's ``-answers.csv``, filled in."""
    table = _frame(task, answers, lambda u: {"set_id": u.unit})
    for coder in coders:
        table[coder] = _values(table, answers, coder, "letter", "string")
    return table.drop(columns="position")


def interpretability_table(
    task: Task, coders: Sequence[str], answers: Sequence[Answer]
) -> pd.DataFrame:
    """``set_id``, ``true_cluster`` and each evaluator's cluster: what scoring takes."""
    to_cluster = task.spec.key["clusters"]
    table = _frame(
        task, answers, lambda u: {"set_id": u.unit, "true_cluster": u.key["true_cluster"]}
    )
    for coder in coders:
        letters = _values(table, answers, coder, "letter", "string")
        table[coder] = letters.map(to_cluster.get, na_action="ignore").astype("Int64")
    return table.drop(columns="position")


def consistency_themes(
    task: Task, coders: Sequence[str], answers: Sequence[Answer]
) -> pd.DataFrame:
    """``id``, ``cluster`` (when the sample had one) and ``theme_<coder>``."""
    table = _frame(task, answers, lambda u: {"id": u.unit} | u.key)
    for coder in coders:
        table[f"theme_{coder}"] = _values(table, answers, coder, "theme", "string")
    return table.drop(columns="position")


def rating_table(task: Task, coders: Sequence[Coder], answers: Sequence[Answer]) -> pd.DataFrame:
    """``id``, ``cluster``, ``coder``, the coder's attributes, one column per scale."""
    scales = [s.name for s in task_scales(task)]
    attributes = {c.name: c.attributes for c in coders}
    names = sorted({k for a in attributes.values() for k in a})
    rows = []
    for answer in answers:
        if answer.status != "answered" or answer.coder not in attributes:
            continue
        unit = task.units[answer.position]
        row = {"id": unit.unit, "cluster": unit.key.get("cluster"), "coder": answer.coder}
        row |= {name: attributes[answer.coder].get(name) for name in names}
        rows.append(row | {scale: answer.value[scale] for scale in scales})
    table = pd.DataFrame(rows, columns=["id", "cluster", "coder", *names, *scales])
    return table.sort_values(["id", "coder"], kind="stable").reset_index(drop=True)


def ratings_sidecar(store: AnnotationStore, name: str) -> dict:
    """What the analysis needs beside a ratings export: its scales and the group attribute."""
    task = store.task(name)
    groups = task.spec.settings.get("groups")
    return {
        "task": task.name,
        "scales": scale_settings(task_scales(task)),
        "group": groups["attribute"] if groups else None,
    }


def write_table(table: pd.DataFrame, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``table`` as CSV; an existing file is kept unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise AnnotationError(f"{out} exists; choose another --out or use --force")
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    log.debug("wrote %d rows to %s", len(table), out)
    return out


def _frame(task: Task, answers: Sequence[Answer], columns) -> pd.DataFrame:
    """One row per answered unit, in the sample's order, with ``columns(unit)`` filled in."""
    answered = {a.position for a in answers if a.status == "answered"}
    rows = [{"position": u.position} | columns(u) for u in task.units if u.position in answered]
    return pd.DataFrame(rows)


def _values(
    table: pd.DataFrame, answers: Sequence[Answer], coder: str, field: str, dtype: str
) -> pd.Series:
    """One coder's ``field`` per row of ``table`` (missing where not answered)."""
    given = {a.position: a.value[field] for a in answers if a.coder == coder and a.value}
    return pd.Series([given.get(p) for p in table["position"]], index=table.index, dtype=dtype)
