"""``semclust hierarchy`` and ``semclust name``: parent themes above a run's clusters, and names
that stay put across runs (docs/hierarchy.md). Heavy imports wait for the command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from semclust.cli.common import console, open_study, user_errors
from semclust.cli.options import RunOpt, StudyOpt


def register(app: typer.Typer) -> None:
    """Add ``hierarchy`` and ``name`` to ``app``."""
    app.command()(hierarchy)
    app.command()(name)


@user_errors()
def hierarchy(
    study: StudyOpt,
    run: RunOpt = "latest",
    levels: Annotated[int, typer.Option(help="Levels of the tree, the clusters included: 2 (themes) or 3 (themes of themes).")] = 2,
    assign_level: Annotated[int, typer.Option(help="The level written to the assignments' theme column (0 = the cluster).")] = 1,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip rewriting report.html.")] = False,
) -> None:
    """Merge a run's clusters into parent themes: hierarchy.csv, clusters.csv's parent, assignments' theme."""
    from semclust.stages.keywords_format import parse_keywords
    from semclust.study.hierarchy import build_hierarchy
    from semclust.study.pipeline import report_run
    from semclust.study.runs import Run

    with open_study(study) as s:
        target = Run.load(s.folder, run)
        table = build_hierarchy(s, target, levels=levels, assign_level=assign_level)
        if not no_report:
            report_run(target)
    for level in range(1, levels):
        for row in table[table["level"] == level].itertuples():
            children = table[(table["level"] == level - 1) & (table["parent"] == row.node)]["node"].tolist()
            words = ", ".join(term for term, _ in parse_keywords(row.keywords)[:5])
            console.print(f"  level {level} theme {row.node} ({row.size} items) <- {children}: {words}",
                          highlight=False, markup=False)
    console.print(f"hierarchy: {target.folder / 'hierarchy.csv'} (assignments' theme = level {assign_level})")


@user_errors()
def name(
    study: StudyOpt,
    namer: Annotated[str, typer.Option(help="keywords (no model), openai:MODEL or ollama:MODEL.")] = "keywords",
    run: RunOpt = "latest",
    level: Annotated[str, typer.Option(help="The level to name (0 = clusters, 1 = their themes, ...) or all.")] = "all",
    base_url: Annotated[str | None, typer.Option(help="Server root for the namer (OpenAI-compatible or Ollama).")] = None,
    exemplars: Annotated[int, typer.Option(help="Descriptions of the items nearest the centroid sent per node.")] = 8,
    max_retries: Annotated[int, typer.Option(help="Extra attempts after 429, 5xx and timeouts.")] = 5,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip rewriting report.html.")] = False,
) -> None:
    """Name every cluster and theme; a name is reused while its members stay (Jaccard >= 0.8)."""
    from semclust.exploration.namer import NamerOptions
    from semclust.exploration.stable_names import name_run, names_table
    from semclust.study.pipeline import report_run
    from semclust.study.runs import Run

    with open_study(study) as s:
        target = Run.load(s.folder, run)
        done = name_run(s.folder, s.store, target, namer, level=level,
                        options=NamerOptions(base_url=base_url, exemplars=exemplars, max_retries=max_retries))
        if not no_report:
            report_run(target)
    for row in names_table(target).itertuples():
        if (row.level, row.node) in done.names:
            console.print(f"  level {row.level} node {row.node}: {row.name}", highlight=False, markup=False)
    console.print(f"named run {target.id}: {done.asked} asked of {namer}, {done.reused} reused from "
                  f"{s.folder / 'names.json'}")
