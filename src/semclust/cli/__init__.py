"""The command line: ``semclust`` and one module per area of commands."""

from semclust.cli.main import app

__all__ = ["app"]
