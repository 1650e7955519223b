"""Commands about describers: the batch status table of ``describe --status`` and ``compare-describers``."""

from __future__ import annotations

from rich.table import Table

from .common import console


def print_batches(frame) -> None:
    """The study's provider batches, newest first."""
    if frame.empty:
        console.print("no batches submitted from this study")
        return
    table = Table(title="provider batches (rerun the same describe --batch command to collect)")
    for column in frame.columns:
        table.add_column(column)
    for row in frame.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    in_flight = frame[frame["stored"] == "no"]
    console.print(f"{len(in_flight)} batch(es) in flight, {int(in_flight['n_requests'].sum())} requests")
