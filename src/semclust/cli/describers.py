"""Commands about describers: the batch status table of ``describe --status`` and ``compare-describers``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from semclust.cli.common import console, open_study, user_errors
from semclust.cli.options import QuietOpt, StudyOpt


def print_batches(frame) -> None:
    """The study's provider batches, newest first."""
    if frame.empty:
        console.print("no batches submitted from this study")
        return
    shown = frame[["batch_id", "status", "describer", "round", "n_requests", "stored", "updated_at"]]
    table = Table(title="provider batches (rerun the same describe --batch command to collect)")
    for column in shown.columns:
        table.add_column(column, overflow="fold")
    for row in shown.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    in_flight = frame[frame["stored"] == "no"]
    console.print(f"{len(in_flight)} batch(es) in flight, {int(in_flight['n_requests'].sum())} requests")


def register(app) -> None:
    """Add ``compare-describers`` to the main app."""

    @app.command("compare-describers")
    @user_errors()
    def compare_describers(
        study: StudyOpt,
        describers: Annotated[str, typer.Option(help="Two or more describers, comma-separated, e.g. openai:gpt-4o-mini,hf:/models/llava.")],
        prompt: Annotated[str, typer.Option(help="connotative, denotative, or a text file (the same for every model).")] = "connotative",
        describe: Annotated[bool, typer.Option(help="Describe missing images first (stored descriptions are reused); --no-describe uses only what the study has.")] = True,
        base_url: Annotated[str | None, typer.Option(help="Endpoint for the HTTP describers that take one.")] = None,
        concurrency: Annotated[int, typer.Option(help="Requests in flight (batch size for hf:/vllm:).")] = 8,
        max_side: Annotated[int, typer.Option(help="Downscale images to this longest side before sending.")] = 512,
        max_tokens: Annotated[int | None, typer.Option(help="Token limit per description.")] = None,
        device: Annotated[str | None, typer.Option(help="hf:/vllm: device.")] = None,
        budget: Annotated[float | None, typer.Option(help="USD per describer: stop sending once reached.")] = None,
        embedder: Annotated[str, typer.Option(help="Text embedder for the clusterings.")] = "st:all-MiniLM-L6-v2",
        reducer: Annotated[str | None, typer.Option(help="Reducer (default: adapted to the number of items).")] = None,
        clusterer: Annotated[str | None, typer.Option(help="Clusterer (default: adapted to the number of items).")] = None,
        seed: Annotated[int, typer.Option(help="Random seed for reducer and clusterer.")] = 0,
        top: Annotated[int, typer.Option(help="Distinctive words listed per model.")] = 25,
        out: Annotated[Path | None, typer.Option(help="Output folder (default: STUDY/audits/A__vs__B).")] = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Compare describers on the same images: cluster agreement (AMI, heatmap), refusals, truncation, length, distinctive words."""
        from semclust.study.config import DescribeOptions
        from semclust.validation.evaluate.describer_audit import (
            AuditOptions,
            audit_describers,
            slug,
            write_audit,
        )

        names = [d.strip() for d in describers.split(",") if d.strip()]
        options = AuditOptions(prompt=prompt, run_describers=describe, embedder=embedder, reducer=reducer,
                               clusterer=clusterer, seed=seed, top_words=top,
                               describe=DescribeOptions(base_url=base_url, concurrency=concurrency,
                                                        max_side=max_side, max_tokens=max_tokens,
                                                        device=device, budget=budget))
        with open_study(study) as s:
            result = audit_describers(s, names, options, progress=not quiet)
            folder = out or s.folder / "audits" / "__vs__".join(slug(n) for n in names)
            page = write_audit(result, folder, top=top)
        table = Table(title=f"describers on {result.n_common} common items")
        for column in ("describer", "described", "refusal_rate", "truncation_rate", "mean_words"):
            table.add_column(column)
        for row in result.models.itertuples():
            table.add_row(row.describer, str(row.described), f"{row.refusal_rate:.1%}",
                          f"{row.truncation_rate:.1%}", f"{row.mean_words:.1f}")
        console.print(table)
        for row in result.agreement.itertuples():
            console.print(f"AMI {row.describer_a} vs {row.describer_b}: {row.ami:.3f}", highlight=False)
        console.print(f"report: {page}")
