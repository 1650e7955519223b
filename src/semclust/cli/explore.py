"""``semclust explore``, ``refine`` and ``export``: look at a run, edit it, take it out (``name``: cli/themes).

:func:`register` adds the commands to the main app; option types that other commands
share come from :mod:`semclust.cli.options`. Heavy imports wait for the command.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from semclust.cli.common import console, open_study, user_errors
from semclust.cli.options import RunOpt, StudyOpt


class ExportFormat(enum.StrEnum):
    folders = "folders"
    zip = "zip"
    contact_sheets = "contact-sheets"
    tables = "tables"
    qdc = "qdc"
    qdpx = "qdpx"


def register(app: typer.Typer) -> None:
    """Add ``explore``, ``refine`` and ``export`` to ``app``."""
    app.command()(explore)
    app.command()(refine)
    app.command()(export)


@user_errors()
def explore(
    study: StudyOpt,
    run: RunOpt = "latest",
    host: Annotated[str, typer.Option(help="Address to listen on; keep 127.0.0.1 unless you know why.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8766,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the page in the default browser.")] = True,
) -> None:
    """Browse a run in the browser: galleries of every cluster, the map, search, failures, edits."""
    from semclust.core.errors import require

    uvicorn = require("uvicorn", "explore", "semclust explore")
    require("fastapi", "explore", "semclust explore")

    from semclust.exploration.app import create_app

    app = create_app(study, run, allowed_hosts=_allowed_hosts(host))
    url = f"http://{host}:{port}/"
    console.print(f"explore {study} at [bold]{url}[/] (Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _allowed_hosts(host: str) -> list[str]:
    return ["127.0.0.1", "localhost"] if host in ("127.0.0.1", "localhost") else ["*"]


@user_errors()
def refine(
    study: StudyOpt,
    run: RunOpt = "latest",
    merge: Annotated[list[str] | None, typer.Option(help="Merge clusters into the first: 3,7 (repeatable).")] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help='Name a cluster: 3="Protest signs" (repeatable).')] = None,
    summary: Annotated[list[str] | None, typer.Option(help='A cluster\'s summary: 3="..." (repeatable).')] = None,
    split: Annotated[list[str] | None, typer.Option(help="Re-cluster one cluster's members: 5:kmeans:2 or 5:hdbscan:20.")] = None,
    outliers: Annotated[str | None, typer.Option(help="Give outliers to clusters until their share is at most the target: nearest:0.05 or soft:0.05.")] = None,
    move: Annotated[list[str] | None, typer.Option(help="Move items to a cluster (-1 = outliers): id1,id2:2 (repeatable).")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="Send a cluster's items to the outliers (repeatable).")] = None,
    replay: Annotated[str | None, typer.Option(help="Rebuild this run from its root run and its recorded edits, and say whether it matches.")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip writing report.html.")] = False,
) -> None:
    """Edit a run's clusters; every edit makes a new run that records its parent and its edits."""
    from semclust.exploration.edits import describe_edit, parse_cli_edits
    from semclust.exploration.refine import refine_run, replay_run

    with open_study(study) as s:
        if replay:
            new, same = replay_run(s, replay, report=not no_report)
            verdict = "[green]identical[/]" if same else "[red]DIFFERENT[/]"
            console.print(f"replayed {replay} as {new.id}: {verdict} cluster assignments")
            if not same:
                raise typer.Exit(code=1)
            return
        edits = parse_cli_edits(names=name or (), summaries=summary or (), merges=merge or (),
                                splits=split or (), moves=move or (), drops=drop or (), outliers=outliers)
        new = refine_run(s, run, edits, report=not no_report)
    for edit in edits:
        console.print(f"  {describe_edit(edit)}", highlight=False)
    console.print(f"new run {new.id} (parent {new.config['parent_run']}): "
                  f"{new.metrics['n_clusters']} clusters, {new.metrics['outlier_share']:.1%} outliers")
    console.print(f"assignments: {new.folder / 'assignments.csv'}")


@user_errors()
def export(
    study: StudyOpt,
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write into (created); qdc/qdpx alone default to the run's folder.")] = None,
    run: RunOpt = "latest",
    format: Annotated[list[ExportFormat] | None, typer.Option("--format", help="folders, zip, contact-sheets, tables, or REFI-QDA qdc/qdpx (repeatable; default all but qdc/qdpx).")] = None,
    copy: Annotated[bool, typer.Option("--copy/--symlink", help="folders: copy the images instead of linking them.")] = False,
    per_cluster: Annotated[int, typer.Option(help="qdpx: pictures per cluster, nearest the centroid first (0 = all).")] = 0,
) -> None:
    """Write a run's clusters out: image folders, a zip, contact sheets, CSV/Parquet, REFI-QDA."""
    from semclust.cli.export_qda import QDA_FORMATS, write_qda
    from semclust.exploration.export import export_run
    from semclust.study.runs import Run

    formats = [f.value for f in (format or [f for f in ExportFormat if f.value not in QDA_FORMATS])]
    others = [f for f in formats if f not in QDA_FORMATS]
    if others and out is None:
        raise typer.BadParameter(f"--out is needed for {', '.join(others)}")
    with open_study(study) as s:
        loaded = Run.load(s.folder, run)
        written = write_qda(loaded, out, formats, per_cluster=per_cluster)
        if others:
            written |= export_run(loaded, out, others, copy=copy)
    for kind, path in written.items():
        console.print(f"{kind}: {path}")
