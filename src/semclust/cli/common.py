"""What every CLI module shares: the console and the one-line error exit.

Kept apart from :mod:`semclust.cli` so the command modules can import it at load time
without importing the app that registers them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from semclust.core.errors import SemclustError

console = Console(stderr=True)

#: Help width when stdout is not a terminal (a pipe, a log, a test): rich's 80 columns cut
#: defaults such as ``st:all-MiniLM-L6-v2`` with an ellipsis.
HELP_WIDTH_OFF_TERMINAL = 160


def widen_help_off_terminal() -> None:
    """Give typer's help :data:`HELP_WIDTH_OFF_TERMINAL` columns when stdout is not a terminal,
    unless the user set ``TERMINAL_WIDTH`` (typer reads it when it first renders help)."""
    if sys.stdout is None or sys.stdout.isatty() or os.environ.get("TERMINAL_WIDTH"):
        return
    os.environ["TERMINAL_WIDTH"] = str(HELP_WIDTH_OFF_TERMINAL)
    rich_utils = sys.modules.get("typer.rich_utils")  # already imported: its width is read
    if rich_utils is not None:
        rich_utils.MAX_WIDTH = HELP_WIDTH_OFF_TERMINAL


def fail(exc: Exception) -> None:
    """One red line; the message is printed as text (it may quote a file name or model output with [brackets])."""
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)  # one line, even in a log
    raise typer.Exit(code=1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a :class:`SemclustError` as one red line and exit 1, never as a traceback.

    Ctrl-C exits 130 with its message (see :class:`~semclust.stages.describe.DescribeInterrupted`).
    Works as ``with user_errors():`` and as the decorator ``@user_errors()``.
    """
    try:
        yield
    except SemclustError as exc:
        fail(exc)
    except KeyboardInterrupt as exc:  # describe's Ctrl-C says what was stored and what is left
        console.print(f"[yellow]{escape(str(exc) or 'interrupted')}[/]", highlight=False)
        raise typer.Exit(code=130) from None


def open_study(folder: Path):
    """The study in ``folder``, imported late so that ``--help`` stays fast."""
    from semclust.study.workspace import Study

    return Study(folder)
