"""``semclust export --format qdc|qdpx``: the run's clusters as a REFI-QDA codebook or project.

The formats join ``semclust export`` (:mod:`semclust.cli.explore`) rather than a command of
their own; this module writes them so that command stays small.
"""

from __future__ import annotations

from pathlib import Path

from semclust.study.runs import Run

QDA_FORMATS = ("qdc", "qdpx")


def write_qda(run: Run, out: Path | None, formats: list[str], *, per_cluster: int = 0) -> dict[str, Path]:
    """Write each REFI-QDA format in ``formats`` as ``<out>/<run id>.<format>`` (``out`` defaults
    to the run's folder); returns what was written, by format."""
    from semclust.exploration.export_qda import export_qda

    folder = run.folder if out is None else out
    folder.mkdir(parents=True, exist_ok=True)
    return {fmt: export_qda(run, folder / f"{run.id}.{fmt}", fmt, per_cluster=per_cluster)
            for fmt in formats if fmt in QDA_FORMATS}
