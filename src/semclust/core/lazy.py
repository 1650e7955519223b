"""Package attributes imported on first use (PEP 562), so that importing a package is cheap.

``semclust --help``, ``annotate export`` and ``sample`` must start in well under a
second; a package ``__init__`` that imports every submodule (scikit-learn, FastAPI,
matplotlib behind them) costs seconds before any work is done.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, homes: dict[str, tuple[str, ...]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import ``homes[module]`` names on demand.

    ``homes`` maps a relative module (``".agreement"``) to the public names it defines.
    """
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name], package), name)
        import_module(package).__dict__[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(import_module(package).__dict__) | set(where))

    return __getattr__, __dir__
