"""The command line: ``semclust`` and one module per area of commands."""

from .main import app

__all__ = ["app"]
