"""The grid file: which embedders x reducers x clusterers x seeds a grid search runs.

A grid file (YAML or TOML, documented in ``docs/grid.md``) lists specs or families of
specs with their parameter values; :func:`load_grid` reads and checks it, building every
spec once so a bad one fails before any work starts, and :meth:`Grid.settings` expands it
into the combinations :mod:`semclust.validation.grid_runner` runs.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semclust.core.errors import SemclustError
from semclust.core.registry import split_spec
from semclust.stages.cluster import create_clusterer
from semclust.stages.cluster_iterkmeans import SPEC_FIELDS as ITERKMEANS_FIELDS
from semclust.stages.reduce import create_reducer
from semclust.study.config import RunConfig

SECTIONS = ("embedders", "reducers", "clusterers")
TOP_KEYS = ("name", "seed", "seeds", *SECTIONS)
#: Named parameters of the families whose specs hold several colon-separated values, in order.
FIELDS = {"umap": ("n_components", "n_neighbors"), "iterkmeans": ITERKMEANS_FIELDS}
#: Families whose spec may leave a field empty to keep its default (``iterkmeans::3``).
GAPS_ALLOWED = {"iterkmeans"}


class GridError(SemclustError, ValueError):
    """A grid file that cannot be run as written."""




@dataclass(frozen=True)
class Embedder:
    """An embedder of a grid: a text embedder on the descriptions, or an image embedder."""

    spec: str
    route: str  # "text" or "image"
    weights: str | None = None


@dataclass(frozen=True)
class Setting:
    """One combination of the grid."""

    embedder: Embedder
    reducer: str
    clusterer: str
    seed: int

    def run_config(self, describer: str | None = None, **options) -> RunConfig:
        """The :class:`RunConfig` that runs this setting as a normal run."""
        route = {"route": self.embedder.route}
        if self.embedder.route == "image":
            route |= {"image_embedder": self.embedder.spec, "image_weights": self.embedder.weights}
        else:
            route |= {"embedder": self.embedder.spec}
        if describer:
            route["describer"] = describer
        return RunConfig(
            reducer=self.reducer, clusterer=self.clusterer, seed=int(self.seed), **route, **options
        )


@dataclass(frozen=True)
class Grid:
    """The settings a grid file asks for; every combination is run once."""

    name: str
    embedders: tuple[Embedder, ...]
    reducers: tuple[str, ...]
    clusterers: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)

    def settings(self) -> list[Setting]:
        """Every combination, those sharing a reduction next to each other."""
        combos = itertools.product(self.embedders, self.reducers, self.seeds, self.clusterers)
        return [Setting(e, r, c, s) for e, r, s, c in combos]


def load_grid(path: str | os.PathLike) -> Grid:
    """Read and check a grid file (``.yaml``/``.yml`` or ``.toml``); see ``docs/grid.md``."""
    path = Path(path)
    if not path.is_file():
        raise GridError(f"grid file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        import tomllib

        parse, errors, kind = tomllib.loads, tomllib.TOMLDecodeError, "TOML"
    elif suffix in (".yaml", ".yml"):
        import yaml

        parse, errors, kind = yaml.safe_load, yaml.YAMLError, "YAML"
    else:
        raise GridError(f"{path.name}: a grid file ends in .yaml, .yml or .toml")
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except errors as exc:
        raise GridError(f"{path.name} is not valid {kind}: {exc}") from exc
    return parse_grid(data, origin=path.name, default_name=path.stem)


def parse_grid(data: Any, origin: str = "the grid", default_name: str = "grid") -> Grid:
    """Check a grid given as a mapping and expand its families into specs."""
    if not isinstance(data, dict):
        raise GridError(f"{origin}: expected a mapping with keys {', '.join(SECTIONS)}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise GridError(f"{origin}: unknown key {unknown[0]!r}; known keys: {', '.join(TOP_KEYS)}")
    missing = [s for s in SECTIONS if not data.get(s)]
    if missing:
        raise GridError(f"{origin}: {missing[0]!r} is missing or empty")
    name = str(data.get("name") or default_name)
    if not re.fullmatch(r"[\w.-]+", name):
        raise GridError(f"{origin}: name {name!r} must be letters, digits, '.', '-' or '_'")
    return Grid(
        name=name,
        embedders=tuple(_embedders(data["embedders"], origin)),
        reducers=tuple(_checked(data["reducers"], "reducers", origin, create_reducer)),
        clusterers=tuple(_checked(data["clusterers"], "clusterers", origin, create_clusterer)),
        seeds=_seeds(data, origin),
    )


def _seeds(data: dict, origin: str) -> tuple[int, ...]:
    if "seed" in data and "seeds" in data:
        raise GridError(f"{origin}: give 'seed' or 'seeds', not both")
    raw = data.get("seeds", data.get("seed", 0))
    seeds = raw if isinstance(raw, list) else [raw]
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise GridError(f"{origin}: seeds: {seed!r} is not a whole number in [0, 2**32)")
    if not seeds:
        raise GridError(f"{origin}: 'seeds' is empty")
    return tuple(dict.fromkeys(seeds))


def _checked(value: Any, section: str, origin: str, factory) -> list[str]:
    """The section's specs, each built once with ``factory`` so a bad one fails now."""
    specs = []
    for where, spec in _expand(value, section, origin):
        try:
            factory(spec, random_state=0)
        except SemclustError as exc:
            raise GridError(f"{origin}: {where}: {exc}") from exc
        specs.append(spec)
    return _unique(specs, section, origin)


def _unique(entries: list, section: str, origin: str) -> list:
    """``entries`` without repeats; an empty section (e.g. ``kmeans: []``) is an error."""
    if not entries:
        raise GridError(f"{origin}: {section!r} names no setting")
    return list(dict.fromkeys(entries))


def _embedders(value: Any, origin: str) -> list[Embedder]:
    from semclust.stages.embed import create_text_embedder, text_embedders
    from semclust.stages.image_embed import image_embedders

    found = []
    for where, item in _expand(value, "embedders", origin, allow_mappings=True):
        spec, weights = _embedder_entry(item, where, origin)
        family = split_spec(spec)[0]
        if family in image_embedders.names():
            found.append(Embedder(spec, "image", weights))
            continue
        if family not in text_embedders.names():
            known = ", ".join(text_embedders.names() + image_embedders.names())
            raise GridError(f"{origin}: {where}: unknown embedder {spec!r}; known: {known}")
        if weights is not None:
            raise GridError(f"{origin}: {where}: 'weights' is for image embedders, not {spec!r}")
        try:
            create_text_embedder(spec)  # cheap: models load on first use
        except SemclustError as exc:
            raise GridError(f"{origin}: {where}: {exc}") from exc
        found.append(Embedder(spec, "text"))
    return _unique(found, "embedders", origin)


def _embedder_entry(item: Any, where: str, origin: str) -> tuple[str, str | None]:
    if isinstance(item, str):
        return item, None
    unknown = [k for k in item if k not in ("spec", "weights")]
    if unknown or not isinstance(item.get("spec"), str):
        bad = f"unknown key {unknown[0]!r}" if unknown else "no 'spec'"
        raise GridError(f"{origin}: {where}: {bad}; write {{spec: cnn:vgg16, weights: FILE}}")
    weights = item.get("weights")
    return item["spec"], None if weights is None else str(weights)


def _expand(
    value: Any, section: str, origin: str, allow_mappings: bool = False
) -> list[tuple[str, Any]]:
    """``(where, spec)`` for a list of specs or a mapping family -> values."""
    if isinstance(value, list):
        entries = []
        for i, item in enumerate(value):
            where = f"{section}[{i}]"
            if not isinstance(item, str) and not (allow_mappings and isinstance(item, dict)):
                raise GridError(
                    f"{origin}: {where}: expected a spec such as 'kmeans:7', got {item!r}"
                )
            entries.append((where, item))
        return entries
    if isinstance(value, dict):
        return [
            entry
            for family, values in value.items()
            for entry in _family(str(family), values, f"{section}.{family}", origin)
        ]
    raise GridError(f"{origin}: {section}: expected a list of specs or a mapping, got {value!r}")


def _family(family: str, values: Any, where: str, origin: str) -> list[tuple[str, str]]:
    """``umap: {n_components: [5, 10]}`` -> umap:5, umap:10; ``kmeans: [7, 15]`` -> kmeans:7, ..."""
    if values is None or values is True:
        return [(where, family)]
    if isinstance(values, dict):
        return [(where, spec) for spec in _field_product(family, values, where, origin)]
    values = values if isinstance(values, list) else [values]
    for i, v in enumerate(values):
        _check_value(v, f"{where}[{i}]", origin)
    return [(f"{where}[{i}]", f"{family}:{v}") for i, v in enumerate(values)]


def _field_product(family: str, values: dict, where: str, origin: str) -> list[str]:
    if family not in FIELDS:
        raise GridError(
            f"{origin}: {where}: {family} takes a list of values, not named parameters "
            f"(named parameters exist for {', '.join(FIELDS)})"
        )
    fields = FIELDS[family]
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise GridError(
            f"{origin}: {where}: unknown parameter {unknown[0]!r}; {family} takes {', '.join(fields)}"
        )
    given = [f for f in fields if f in values]
    last = fields.index(given[-1]) if given else -1
    gaps = [f for f in fields[:last] if f not in values]
    if gaps and family not in GAPS_ALLOWED:
        raise GridError(f"{origin}: {where}: give {gaps[0]!r} too (it comes before {given[-1]!r})")
    choices = []
    for f in fields[: last + 1]:
        options = values.get(f, [""])
        options = options if isinstance(options, list) else [options]
        for i, v in enumerate(options):
            _check_value(v, f"{where}.{f}[{i}]", origin)
        choices.append([str(v) for v in options])
    return [":".join([family, *combo]).rstrip(":") for combo in itertools.product(*choices)]


def _check_value(value: Any, where: str, origin: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise GridError(f"{origin}: {where}: expected a number or text, got {value!r}")

