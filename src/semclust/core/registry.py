"""Backends register under a short name so users pick them with strings.

A spec is ``NAME`` or ``NAME:ARGS`` (``openai:gpt-4o-mini``, ``umap:10:15``,
``ollama:llava:13b``).  Only the first colon splits: the rest is handed to the
backend's factory as one string, because model names may contain colons.
Built-ins register lazily (``"module:attr"``) so that naming a backend never
imports another backend's heavy dependencies; third-party packages add their
own through the entry-point group ``semclust.<kind>`` (e.g. ``semclust.describers``).
"""

from __future__ import annotations

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


class Registry:
    """Maps short names to factories ``factory(args: str, **options) -> backend``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any] | str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, factory: Callable[..., Any] | str) -> None:
        """Register a factory, or a ``"package.module:attr"`` path imported on first use."""
        self._factories[name.lower()] = factory

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._factories)

    def create(self, spec: str, **options: Any) -> Any:
        """Build the backend that ``spec`` names, passing ``options`` through."""
        name, args = split_spec(spec)
        factory = self._resolve(name, spec)
        return factory(args, **options)

    def _resolve(self, name: str, spec: str) -> Callable[..., Any]:
        if name not in self._factories:
            self._load_entry_points()
        if name not in self._factories:
            known = ", ".join(self.names()) or "none"
            raise UnknownBackendError(f"unknown {self.kind} {spec!r}; known: {known}")
        factory = self._factories[name]
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            factory = self._factories[name] = obj
        return factory

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=f"semclust.{self.kind}s"):
            # kept as "module:attr" so listing names imports no plugin (a broken one included)
            self._factories.setdefault(ep.name.lower(), f"{ep.module}:{ep.attr}")
