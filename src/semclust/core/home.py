"""Where semclust keeps what it makes for the user across studies (weights, model exports)."""

from __future__ import annotations

import os
from pathlib import Path


def semclust_home() -> Path:
    """The library's own data directory: ``$SEMCLUST_HOME`` or ``~/.cache/semclust``."""
    return Path(os.environ.get("SEMCLUST_HOME") or "~/.cache/semclust").expanduser()
