"""A run's evaluation on disk: ``evaluation.json``, its tables and plots, the report.

Every result lands in the run's ``evaluation.json``, one top-level key per section
(``quality``, ``pairs``, ``agreement``, ``external``, ``interpretability``,
``consistency``, ``internal``, ``data_loss``, ``stability``, ``choose_k``, ``compare``).
Saving replaces only the sections given, so results gathered at different times stay
together. Tables go to ``runs/<id>/evaluation/*.csv``, plots beside them as PNG, and the
run's ``report.html`` is rendered again with the evaluation in words.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from semclust.validation.evaluate.words import in_words

if TYPE_CHECKING:
    from semclust.study.runs import Run

EVALUATION_FILE = "evaluation.json"
EVALUATION_FOLDER = "evaluation"


@dataclass
class Section:
    """One part of an evaluation: JSON-able results, tables to save as CSV, plots to draw."""

    data: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots: dict[str, Callable[[Path], object]] = field(default_factory=dict)


def load_evaluation(run: Run) -> dict:
    """The run's evaluation so far; a run never evaluated has only its id."""
    path = run.folder / EVALUATION_FILE
    return json.loads(path.read_text()) if path.exists() else {"run": run.id}


def save_sections(run: Run, sections: dict[str, Section]) -> dict:
    """Merge ``sections`` into evaluation.json, write their tables and plots, redo the report."""
    evaluation = load_evaluation(run)
    folder = run.folder / EVALUATION_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for name, section in sections.items():
        evaluation[name] = plain(section.data) | {"computed": stamp}
        for table_name, table in section.tables.items():
            table.to_csv(folder / f"{name}_{table_name}.csv", index=False)
        for file_name, draw in section.plots.items():
            draw(folder / file_name)
    evaluation["updated"] = stamp
    (run.folder / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2, allow_nan=False))
    _render_report(run, evaluation)
    return evaluation


def _render_report(run: Run, evaluation: dict) -> None:
    """The run's report again, its metrics table extended by the evaluation in words."""
    from semclust.study.pipeline import label_run, report_run

    if run.clusters is None:
        label_run(run)
    metrics = dict(run.metrics or {}) | {
        f"Evaluation: {line.measure}": f"{line.value}  [{line.note}]" if line.note else line.value
        for line in in_words(evaluation)
    }
    report_run(dataclasses.replace(run, metrics=metrics))


def plain(value):
    """JSON-safe: numpy scalars as Python numbers, NaN and NA as null, tables as records."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return plain(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return plain(value.to_dict())
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return str(value) if isinstance(value, Path) else value
