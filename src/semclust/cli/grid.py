"""``semclust grid``: run a grid of pipeline settings, score each one, re-run the best.

:func:`register` adds the command to the main app; option types that other commands share
come from :mod:`semclust.cli.options`.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from semclust.cli.options import (
    CodesOpt,
    FoldsOpt,
    MinDiffOpt,
    MinSameOpt,
    QuietOpt,
    ScaleOpt,
    StudyOpt,
)
from semclust.core.errors import SemclustError

TOP_ROWS = 10


class Criterion(enum.StrEnum):
    """What `--criterion` accepts (higher is better except for s_dbw and davies_bouldin)."""

    connotative = "connotative"
    denotative = "denotative"
    f1 = "f1"
    f1_clustered = "f1_clustered"
    ami = "ami"
    silhouette = "silhouette"
    silhouette_reduced = "silhouette_reduced"
    calinski_harabasz = "calinski_harabasz"
    s_dbw = "s_dbw"
    davies_bouldin = "davies_bouldin"


def register(app: typer.Typer) -> None:
    """Add ``grid`` to ``app``."""
    app.command()(grid)


def grid(
    grid_file: Annotated[
        Path, typer.Argument(help="The grid file (.yaml or .toml); see docs/grid.md.")
    ],
    study: StudyOpt,
    codes: CodesOpt = None,
    scale: ScaleOpt = "auto",
    min_same: MinSameOpt = 50,
    min_diff: MinDiffOpt = 50,
    pair_dimension: Annotated[
        str | None,
        typer.Option(
            help="Codes for pair precision/recall: same, connotative or denotative (default: same if coded)."
        ),
    ] = None,
    pair_threshold: Annotated[
        float, typer.Option(help="A graded code at least this (0-2) means 'belong together'.")
    ] = 2.0,
    folds: FoldsOpt = 5,
    labels: Annotated[
        str | None,
        typer.Option(help="An input column of known categories: AMI of each setting with it."),
    ] = None,
    ami_form: Annotated[
        str, typer.Option(help="AMI normaliser: max (Zhang & Leung A.1) or arithmetic.")
    ] = "max",
    criterion: Annotated[
        Criterion | None,
        typer.Option(
            help="Best setting by this score (default: connotative, else f1 on all coded pairs, "
            "else silhouette in the embedding space)."
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes (-1: every core).")
    ] = -1,
    best: Annotated[
        bool, typer.Option(help="Re-run the best setting as a normal run with its report.")
    ] = True,
    map: Annotated[
        str, typer.Option(help="2-D map in the best run's report: umap, pca or none.")
    ] = "umap",
    quiet: QuietOpt = False,
) -> None:
    """Run every combination of embedders x reducers x clusterers x seeds once and score it.

    Each finished setting is saved at once (a rerun skips it); results and plots: STUDY/grids/NAME/.
    """
    from semclust.cli.common import console, open_study
    from semclust.cli.common import fail as _fail
    from semclust.validation.grid_file import load_grid
    from semclust.validation.grid_runner import rerun_best, run_grid
    from semclust.validation.grid_scoring import ScoringOptions, choose_criterion

    scoring = ScoringOptions(codes=codes, scale=scale, min_same=min_same, min_diff=min_diff,
                             pair_dimension=pair_dimension, pair_threshold=pair_threshold, folds=folds,
                             labels=labels, ami_form=ami_form)  # fmt: skip
    try:
        spec = load_grid(grid_file)
        with open_study(study) as s:
            outcome = run_grid(s, spec, scoring, n_jobs=jobs, progress=not quiet)
            _print_outcome(console, outcome)
            chosen = choose_criterion(outcome.results, criterion and criterion.value)
            _print_top(console, outcome.results, chosen)
            if best:
                _print_best(console, rerun_best(s, outcome, chosen, progress=not quiet, map=map))
    except KeyboardInterrupt:
        console.print("interrupted: finished settings are saved; run the same command to continue")
        raise typer.Exit(code=130) from None
    except SemclustError as exc:
        _fail(exc)


def _print_best(console, best) -> None:
    row = best.row
    setting = f"{row['embedder']} | {row['reducer']} | {row['clusterer']} | seed {row['seed']}"
    console.print(f"best by {best.criterion}: {setting}", markup=False)
    console.print(f"best run:    {best.run.id}")
    console.print(f"report:      {best.report}")


def _print_outcome(console, outcome) -> None:
    from rich.markup import escape

    console.print(
        f"grid {outcome.folder.name}: {len(outcome.results)} settings; {outcome.n_skipped} already done "
        f"(skipped), {outcome.n_computed} computed, {outcome.n_rescored} rescored, "
        f"{outcome.n_reductions} reductions computed"
    )
    failed = outcome.results[outcome.results["error"].notna()]
    for row in failed.head(5).itertuples():
        console.print(f"  [yellow]failed[/]: {escape(row.error)}")
    console.print(f"results:     {outcome.folder / 'results.csv'}")
    for path in outcome.plots:
        console.print(f"plot:        {path}")


def _print_top(console, results, criterion: str) -> None:
    from rich.table import Table

    from semclust.validation.grid_scoring import CRITERIA

    ranked = results.dropna(subset=[criterion]).sort_values(
        criterion, ascending=not CRITERIA[criterion]
    )
    table = Table(title=f"top settings by {criterion}")
    columns = ["embedder", "reducer", "clusterer", "seed", "n_clusters", "outlier_share", criterion]
    for column in columns:
        table.add_column(column)
    for _, row in ranked.head(TOP_ROWS).iterrows():
        table.add_row(
            *[f"{row[c]:.3g}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        )
    console.print(table)
    if criterion in ("silhouette", "davies_bouldin", "calinski_harabasz", "s_dbw"):
        console.print(f"{criterion} is measured in each embedder's space (the same for every reducer); "
                      "scores of different embedders are not comparable")
    elif criterion == "silhouette_reduced":
        console.print("silhouette_reduced is measured in each setting's own reduced space: "
                      "it favours UMAP and is not comparable across reducers")
    elif criterion == "f1":
        console.print("f1: pair F1 on all coded pairs (an outlier is apart from everything)")
    elif criterion == "ami":
        console.print("ami: with the --labels column, outliers as one more label, in the --ami-form "
                      "normaliser (default max, Zhang & Leung A.1)")
