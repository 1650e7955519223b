"""``semclust annotate``: serve a sample to coders in the browser, export their answers.

:func:`register` adds the ``annotate`` group to the main app; option types that other
commands share come from :mod:`semclust.cli.options`.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

from semclust.cli.common import console, fail
from semclust.cli.common import user_errors as _user_errors
from semclust.cli.options import StudyOpt

log = logging.getLogger(__name__)

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
            "consistency CSV, ratings CSV."
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
    scales: Annotated[
        str | None,
        typer.Option(help="ratings: a preset (emotions-casas) or a YAML/TOML file of scales."),
    ] = None,
    themes: Annotated[
        Path | None,
        typer.Option(help="consistency: a REFI-QDA codebook (.qdc or .qdpx) whose codes coders "
                     "are offered as themes."),
    ] = None,
    links_only: Annotated[
        bool | None,
        typer.Option(
            "--links-only/--names",
            help="Reach the task only through signed links (`annotate link`), or also by "
            "typing a name on the start page. Default: links only when coders have groups.",
        ),
    ] = None,
    completion_url: Annotated[
        str | None,
        typer.Option(
            help="Where a participant is sent when done, e.g. "
            "https://app.prolific.com/submissions/complete?cc=CODE (kept for later serves; "
            "'' removes it)."
        ),
    ] = None,
    completion_code: Annotated[
        str | None, typer.Option(help="The completion code shown to a participant when done.")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
) -> None:
    """Serve a sample to coders; every answer is stored in the study at once."""
    from semclust.core.errors import require
    from semclust.validation.annotate.scales import load_scales

    with _user_errors():  # a bad --scales fails before the app's imports
        chosen = load_scales(scales) if scales else None
    uvicorn = require("uvicorn", "annotate", "The coding app")
    require("fastapi", "annotate", "The coding app")

    from semclust.validation.annotate import AnnotationStore, create_app, load_task
    from semclust.validation.annotate.links import admin_token

    with _user_errors():
        with AnnotationStore(study) as store:
            loaded = load_task(
                store, study, task, name=name, seed=seed, grouped=grouped, scales=chosen,
                themes=themes,
            )
            if links_only is None:
                links_only = bool(loaded.spec.settings.get("groups"))
            given = {"completion_url": completion_url, "completion_code": completion_code}
            fielding = store.set_fielding(  # a restart without them keeps the stored ones
                loaded,
                links_only=links_only,
                **{k: v or None for k, v in given.items() if v is not None},
            )
            secret = store.fielding(loaded)["secret"]
        loopback = is_loopback(host)
        if not loopback:
            log.warning(
                "listening on %s: anyone who can reach this machine on port %d can open the "
                "coding app%s; use 127.0.0.1 unless the network is trusted, and put a "
                "reverse proxy with HTTPS in front for a crowd study",
                host,
                port,
                " with a link" if links_only else " and start coding under any new name",
            )
        app = create_app(
            study, loaded.name, allowed_hosts=_allowed_hosts(host) if loopback else None
        )
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        base = f"http://{shown}:{port}"
        entry = "through their links (`semclust annotate link`)" if links_only else f"{base}/"
        console.print(
            f"task [bold]{loaded.name}[/]: {len(loaded.units)} units to code ({loaded.kind}). "
            f"Coders open {entry}  (Ctrl-C stops the app; answers are saved)",
            highlight=False,
        )
        if fielding.get("completion_url"):
            console.print(f"participants who finish go to {fielding['completion_url']}")
        console.print(
            f"dashboard (keep it private): {base}/admin/{admin_token(secret, loaded)}",
            highlight=False,
            soft_wrap=True,
        )
        uvicorn.run(app, host=host, port=port, log_level="warning")


@annotate_app.command()
def link(
    study: StudyOpt,
    task: Annotated[str, typer.Option(help="The task's name (see `semclust annotate tasks`).")],
    base_url: Annotated[
        str,
        typer.Option(help="The address coders reach the app at (a public one for a crowd)."),
    ] = "http://127.0.0.1:8765",
    group: Annotated[
        list[str] | None,
        typer.Option(
            help="Crowd links for these groups only, e.g. Democrat (default: one per group)."
        ),
    ] = None,
    platform: Annotated[
        str,
        typer.Option(help="prolific, qualtrics or mturk: where the participant id comes from."),
    ] = "prolific",
    param: Annotated[
        str | None,
        typer.Option(help="The participant-id query parameter (default: the platform's)."),
    ] = None,
    coders_file: Annotated[
        Path | None,
        typer.Option(
            help="A CSV with a 'coder' column (and the group attribute): one personal link each."
        ),
    ] = None,
) -> None:
    """Print signed links: one study URL per coder group for a crowd platform, or personal ones."""
    from semclust.validation.annotate import AnnotationStore
    from semclust.validation.annotate.links import (
        PLATFORMS,
        coder_token,
        crowd_url,
        group_token,
        personal_url,
    )

    with _user_errors(), AnnotationStore(study) as store:
        loaded = store.task(task)
        secret = store.fielding(loaded)["secret"]
        if coders_file is not None:
            for coder, attributes in _read_coders(coders_file, loaded):
                token = coder_token(secret, loaded, coder, attributes)
                typer.echo(f"{coder}\t{personal_url(base_url, token)}")  # tab-separated, as is
            return
        if platform not in PLATFORMS:
            fail(ValueError(f"--platform {platform!r}: one of {', '.join(PLATFORMS)}"))
        param = param or PLATFORMS[platform][0]
        groups = loaded.spec.settings.get("groups")
        values = group or (groups["values"] if groups else [None])
        for value in values:
            attributes = {groups["attribute"]: value} if groups and value else {}
            url = crowd_url(
                base_url, group_token(secret, loaded, attributes, param), param, platform
            )
            label = f"{groups['attribute']}={value}" if groups else "all participants"
            typer.echo(f"{label}\t{url}")


@annotate_app.command()
def coders(
    study: StudyOpt,
    task: Annotated[str, typer.Option(help="The task's name (see `semclust annotate tasks`).")],
    remove: Annotated[
        str | None,
        typer.Option(
            help="Remove this coder: answers stay in the study, marked, but leave exports."
        ),
    ] = None,
    rename: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Rename a coder: OLD NEW (answers follow)."),
    ] = None,
) -> None:
    """A task's coders with their group and progress; remove or rename one."""
    from rich.table import Table

    from semclust.validation.annotate import AnnotationStore
    from semclust.validation.annotate.dashboard import dashboard_rows

    with _user_errors(), AnnotationStore(study) as store:
        loaded = store.task(task)
        if remove:
            store.remove_coder(loaded, remove)
            console.print(f"removed {remove} (answers kept in the study, left out of exports)")
        if rename:
            store.rename_coder(loaded, *rename)
            console.print(f"renamed {rename[0]} to {rename[1]}", highlight=False)
        rows = dashboard_rows(store, loaded)["coders"]
        table = Table(title=f"coders of {loaded.name} ({loaded.kind})")
        for column in ("coder", "group", "slot", "done", "skipped", "of", "status"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["name"],
                " ".join(f"{k}={v}" for k, v in row["attributes"].items()) or "–",
                "–" if row["slot"] is None else str(row["slot"]),
                str(row["progress"].done),
                str(row["progress"].skipped),
                str(row["progress"].total),
                "removed" if row["removed"] else "active",
            )
        console.print(table)
        if not rows:
            console.print("no coder has started yet")


def _read_coders(path: Path, task) -> list[tuple[str, dict]]:
    """Coders and their attributes from a CSV with a ``coder`` column."""
    import pandas as pd

    from semclust.validation.annotate import AnnotationError

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise AnnotationError(f"cannot read {path}: {exc}") from None
    if "coder" not in table.columns:
        raise AnnotationError(f"{path.name} needs a 'coder' column; it has {list(table.columns)}")
    groups = task.spec.settings.get("groups")
    wanted = [groups["attribute"]] if groups else []
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise AnnotationError(f"{path.name} needs the group column {missing[0]!r}")
    return [
        (row["coder"].strip(), {c: row[c].strip() for c in wanted})
        for row in table.to_dict(orient="records")
    ]


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
    import json

    from semclust.validation.annotate import AnnotationStore, export_answers, write_table
    from semclust.validation.annotate.export import ratings_sidecar

    with _user_errors(), AnnotationStore(study) as store:
        table = export_answers(store, task, clusters=clusters)
        write_table(table, out, overwrite=force)
        if store.task(task).kind == "ratings":  # the scales travel with the ratings
            Path(out).with_suffix(".json").write_text(
                json.dumps(ratings_sidecar(store, task), indent=2), encoding="utf-8"
            )
            console.print(
                f"wrote {len(table)} ratings to {out}; score them with `semclust evaluate "
                f"--ratings {out}`",
                highlight=False,
            )
            return
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

    from semclust.validation.annotate import AnnotationStore
    from semclust.validation.annotate.tasks import progress

    with _user_errors(), AnnotationStore(study) as store:
        table = Table(title="coding tasks")
        table.add_column("task", overflow="fold")
        for column in ("kind", "units", "coder", "done", "skipped"):
            table.add_column(column)
        for name in store.task_names():
            loaded = store.task(name)
            names = store.coders(loaded) or [None]
            for coder in names:
                order = store.coder_order(loaded, coder) if coder else []
                done = progress(order, store.answers(loaded, coder)) if coder else None
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
