"""``semclust annotate``: serve a sample to coders in the browser, export their answers.

:func:`register` adds the ``annotate`` group to the main app. Option types are declared
here, not imported from :mod:`semclust.cli`, because typer reads annotations from this
module's globals and this module must not import the CLI at import time.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

from .common import console
from .common import user_errors as _user_errors

log = logging.getLogger(__name__)

StudyOpt = Annotated[Path, typer.Option("--study", "-s", help="The study folder.")]

annotate_app = typer.Typer(
    no_args_is_help=True,
    help="Coders code a sample in the browser (blind to clusters); export their answers.",
)


def register(app: typer.Typer) -> None:
    """Add the ``annotate`` command group to ``app``."""
    app.add_typer(annotate_app, name="annotate")




@annotate_app.command()
def serve(
    study: StudyOpt,
    task: Annotated[
        Path,
        typer.Option(
            help="A sample from `semclust sample`: pairs CSV, interpretability -key.csv, "
            "consistency CSV."
        ),
    ],
    name: Annotated[
        str | None, typer.Option(help="Task name (default: the file name without .csv).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the coders' unit orders.")] = 0,
    grouped: Annotated[
        bool,
        typer.Option(
            help="consistency: show each cluster's items together (Zhang and Leung's "
            "procedure) instead of mixing all clusters."
        ),
    ] = False,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
) -> None:
    """Serve a sample to coders; every answer is stored in the study at once."""
    import uvicorn

    from ..annotate import AnnotationStore, create_app, load_task

    with _user_errors():
        with AnnotationStore(study) as store:
            loaded = load_task(store, study, task, name=name, seed=seed, grouped=grouped)
        loopback = is_loopback(host)
        if not loopback:
            log.warning(
                "listening on %s: anyone who can reach this machine can open the coding app "
                "and write answers (it has no passwords); use 127.0.0.1 unless the network "
                "is trusted",
                host,
            )
        app = create_app(
            study, loaded.name, allowed_hosts=_allowed_hosts(host) if loopback else None
        )
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        console.print(
            f"task [bold]{loaded.name}[/]: {len(loaded.units)} units to code ({loaded.kind}). "
            f"Coders open http://{shown}:{port}/  (Ctrl-C stops the app; answers are saved)",
            highlight=False,
        )
        uvicorn.run(app, host=host, port=port, log_level="warning")


@annotate_app.command()
def export(
    study: StudyOpt,
    task: Annotated[str, typer.Option(help="The task's name (see `semclust annotate tasks`).")],
    out: Annotated[Path, typer.Option(help="The CSV file to write.")],
    clusters: Annotated[
        bool,
        typer.Option(
            help="interpretability: write set_id, true_cluster and each evaluator's cluster "
            "(for score_interpretability) instead of the letters `semclust evaluate` reads."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite --out.")] = False,
) -> None:
    """Write the answers as `semclust evaluate` reads them (--codes, --interpretability, ...)."""
    from ..annotate import AnnotationStore, export_answers, write_table

    with _user_errors(), AnnotationStore(study) as store:
        table = export_answers(store, task, clusters=clusters)
        write_table(table, out, overwrite=force)
        console.print(f"wrote {len(table)} answered units to {out}", highlight=False)
        graded = table.filter(regex=r"^(denotative|connotative)_")
        if graded.size and graded.min().min() >= 1:
            console.print(
                "no coder used code 0: tell `semclust evaluate` the scale with --scale 0-2",
                highlight=False,
            )


@annotate_app.command("tasks")
def list_tasks(study: StudyOpt) -> None:
    """The study's coding tasks and each coder's progress."""
    from rich.table import Table

    from ..annotate import AnnotationStore
    from ..annotate.tasks import progress

    with _user_errors(), AnnotationStore(study) as store:
        table = Table(title="coding tasks")
        table.add_column("task", overflow="fold")
        for column in ("kind", "units", "coder", "done", "skipped"):
            table.add_column(column)
        for name in store.task_names():
            loaded = store.task(name)
            coders = store.coders(loaded) or [None]
            for coder in coders:
                done = progress(loaded, store.answers(loaded, coder)) if coder else None
                table.add_row(
                    name,
                    loaded.kind,
                    str(len(loaded.units)),
                    coder or "–",
                    str(done.done) if done else "0",
                    str(done.skipped) if done else "0",
                )
        console.print(table)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_hosts(host: str) -> list[str] | None:
    """Host headers to accept on a loopback address (None: IPv6, which the check cannot parse)."""
    return None if ":" in host else ["127.0.0.1", "localhost", host]
