"""One progress-bar style for every long step (rich), silenced with SEMCLUST_QUIET=1 or when not a TTY in CI logs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def enabled(flag: bool = True) -> bool:
    return flag and os.environ.get("SEMCLUST_QUIET", "") not in ("1", "true", "yes")


def on_terminal(flag: bool = True) -> bool:
    """Whether a third-party bar (tqdm's, e.g. sentence-transformers' ``Batches:``) may be shown:
    only on a terminal, since a log file gets every redraw of it as text."""
    stream = sys.stderr
    return enabled(flag) and stream is not None and stream.isatty()


def make_progress(*extra_columns) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def track(items: Iterable[T], total: int | None, description: str, show: bool = True) -> Iterator[T]:
    """Iterate with a progress bar (or silently when disabled)."""
    if not enabled(show):
        yield from items
        return
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
