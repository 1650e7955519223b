"""``semclust check-codes``: a language model's zero-shot check of a codebook-seeded run.

:func:`register` adds the command to the main app. Seeding itself is ``semclust cluster
--codebook``; its validation is ``semclust sample codes`` and ``evaluate --codebook-codes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from semclust.cli.common import console, open_study, user_errors
from semclust.cli.options import RunOpt, StudyOpt


def register(app: typer.Typer) -> None:
    """Add ``check-codes`` to ``app``."""
    app.command("check-codes")(check_codes)


@user_errors()
def check_codes(
    study: StudyOpt,
    checker: Annotated[str, typer.Option(help="openai:MODEL or ollama:MODEL.")],
    run: RunOpt = "latest",
    base_url: Annotated[str | None, typer.Option(help="Server root (OpenAI-compatible or Ollama).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be sent and what it would cost; send nothing.")] = False,
    budget: Annotated[float | None, typer.Option(help="Stop before the estimated cost passes this many USD.")] = None,
    prices: Annotated[Path | None, typer.Option(help="A TOML file of extra model prices.")] = None,
    max_retries: Annotated[int, typer.Option(help="Extra attempts after 429, 5xx and timeouts.")] = 5,
) -> None:
    """Ask a language model whether each coded item fits its code's definition -> code_check.csv."""
    from semclust.exploration.code_check import CHECK_FILE, CheckOptions
    from semclust.exploration.code_check import check_codes as check
    from semclust.study.runs import Run

    options = CheckOptions(base_url=base_url, dry_run=dry_run, budget=budget,
                           prices=str(prices) if prices else None, max_retries=max_retries)
    with open_study(study) as s:
        loaded = Run.load(s.folder, run)
        plan, table = check(s.store, loaded, checker, options)
    console.print(plan.in_words(), highlight=False, markup=False)
    if table is None:
        return
    fits = table["fits"]
    console.print(f"{int(fits.sum())} fit their code, {int((~fits).sum())} do not, {int(fits.isna().sum())} "
                  f"not checked or unreadable -> {loaded.folder / CHECK_FILE}", highlight=False, markup=False)
    for code, rows in table.groupby("code", sort=False):
        checked = rows["fits"].dropna()
        share = f"{checked.mean():.0%}" if len(checked) else "-"
        console.print(f"  {code}: {share} of {len(checked)} checked items fit", highlight=False, markup=False)
