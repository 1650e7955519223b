"""Backends register under a short name so users pick them with strings.

A spec is ``NAME`` or ``NAME:ARGS`` (``openai:gpt-4o-mini``, ``umap:10:15``,
``ollama:llava:13b``).  Only the first colon splits: the rest is handed to the
backend's factory as one string, because model names may contain colons.
Built-ins register lazily (``"module:attr"``) so that naming a backend never
imports another backend's heavy dependencies; third-party packages add their
own through the entry-point group ``semclust.<kind>`` (e.g. ``semclust.describers``).

:meth:`Registry.check` reads a spec without building anything (no model loaded, no heavy
import), so a command can refuse a bad name or argument before any work starts.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from semclust.core.errors import UnknownBackendError


def split_spec(spec: str) -> tuple[str, str]:
    """``"umap:10:15"`` -> ``("umap", "10:15")``; ``"none"`` -> ``("none", "")``."""
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownBackendError(f"empty backend name: {spec!r}")
    name, _, rest = spec.strip().partition(":")
    return name.lower(), rest


def _load(path: str) -> Any:
    """The object a ``"package.module:attr"`` path names."""
    module, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Maps short names to factories ``factory(args: str, **options) -> backend``.

    ``handled_elsewhere`` are names the caller resolves itself (the describers' ``column`` and
    ``none``): listed among the known names and accepted by :meth:`check`, never built here.
    """

    def __init__(self, kind: str, handled_elsewhere: tuple[str, ...] = ()):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any] | str] = {}
        self._checks: dict[str, Callable[[str], Any] | str] = {}
        self._elsewhere = tuple(name.lower() for name in handled_elsewhere)
        self._entry_points_loaded = False

    def register(self, name: str, factory: Callable[..., Any] | str,
                 check: Callable[[str], Any] | str | None = None) -> None:
        """Register a factory, or a ``"package.module:attr"`` path imported on first use.

        ``check(args)`` (or its path) reads the arguments alone and raises on bad ones; it must
        be cheap, since :meth:`check` runs it before any work.
        """
        self._factories[name.lower()] = factory
        if check is not None:
            self._checks[name.lower()] = check

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted({*self._factories, *self._elsewhere})

    def check(self, spec: str) -> None:
        """Raise :class:`UnknownBackendError` (with every known name and the nearest one) for an
        unknown name, or the backend's own error for bad arguments; build nothing."""
        name, args = split_spec(spec)
        if name not in self._factories:
            self._load_entry_points()
        if name not in self._factories and name not in self._elsewhere:
            raise UnknownBackendError(self._unknown(name, spec))
        checker = self._checks.get(name)
        if isinstance(checker, str):
            checker = self._checks[name] = _load(checker)
        if checker is not None:
            checker(args)

    def _unknown(self, name: str, spec: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {self.kind.replace('_', ' ')} {spec!r}{hint}; known: {', '.join(known) or 'none'}"

    def create(self, spec: str, **options: Any) -> Any:
        """Build the backend that ``spec`` names, passing ``options`` through."""
        name, args = split_spec(spec)
        factory = self._resolve(name, spec)
        return factory(args, **options)

    def _resolve(self, name: str, spec: str) -> Callable[..., Any]:
        if name not in self._factories:
            self._load_entry_points()
        if name not in self._factories:
            if name in self._elsewhere:
                raise UnknownBackendError(f"{self.kind.replace('_', ' ')} {spec!r} is not built by a factory: "
                                          "the study resolves it itself")
            raise UnknownBackendError(self._unknown(name, spec))
        factory = self._factories[name]
        if isinstance(factory, str):
            factory = self._factories[name] = _load(factory)
        return factory

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"semclust.{self.kind}s"):
            # kept as "module:attr" so listing names imports no plugin (a broken one included)
            self._factories.setdefault(ep.name.lower(), f"{ep.module}:{ep.attr}")
