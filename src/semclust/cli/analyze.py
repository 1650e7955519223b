"""``semclust analyze``: from a run's clusters to findings (shares by group and over time,
group differences, outcome effects), written to ``runs/<id>/analysis/``; see docs/analysis.md.
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from semclust.cli.common import console, open_study, user_errors
from semclust.cli.options import QuietOpt, RunOpt, SeedOpt, StudyOpt


class Frequency(enum.StrEnum):
    day = "day"
    week = "week"
    month = "month"
    year = "year"


class Model(enum.StrEnum):
    negbin = "negbin"
    poisson = "poisson"
    ols = "ols"
    logit = "logit"


def register(app: typer.Typer) -> None:
    """Add ``analyze`` to ``app``."""
    app.command()(analyze)


@user_errors()
def analyze(
    study: StudyOpt,
    run: RunOpt = "latest",
    by: Annotated[str | None, typer.Option(help="Column of the input that names each item's group.")] = None,
    time: Annotated[str | None, typer.Option(help="Date column of the input, for shares over time.")] = None,
    freq: Annotated[Frequency, typer.Option(help="Period of the over-time shares.")] = Frequency.month,
    outcome: Annotated[str | None, typer.Option(help="Numeric column to regress on cluster membership.")] = None,
    controls: Annotated[str, typer.Option(help="Comma-separated numeric control columns.")] = "",
    model: Annotated[Model, typer.Option(help="negbin/poisson for counts, logit for 0/1, ols.")] = Model.negbin,
    exclude_outliers: Annotated[bool, typer.Option(
        "--exclude-outliers/--outliers-as-cluster",
        help="Leave the outliers (cluster -1) out (default), or count them as one more cluster.")] = True,
    reference_group: Annotated[str | None, typer.Option(help="Group the others are compared with "
                                                               "(default: the first in sort order).")] = None,
    reference_cluster: Annotated[int | None, typer.Option(help="Cluster the effects are relative to "
                                                                "(default: the largest).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals.")] = 1000,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Shares of each cluster by group and over time, group differences and outcome effects, with intervals."""
    with open_study(study) as s:
        loaded = s.load_run(run)
    write_analysis(loaded, by=by, time=time, freq=str(freq), outcome=outcome,
                   controls=[c.strip() for c in controls.split(",") if c.strip()], model=str(model),
                   outliers="exclude" if exclude_outliers else "cluster", bootstrap=bootstrap, seed=seed,
                   reference_group=reference_group, reference_cluster=reference_cluster)


def write_analysis(run, **options) -> None:
    """Analyse ``run``, write ``analysis/``, re-write its report with the findings, print a summary."""
    from semclust.study.pipeline import report_run

    result = run.analyze(**options)
    folder = result.save(run.folder / "analysis")
    if (run.folder / "report.html").exists():
        report_run(run)  # the report shows the analysis beside the clusters
    for line in result.summary():
        console.print(line, highlight=False, markup=False)
    console.print(f"wrote {folder}", highlight=False, markup=False)
