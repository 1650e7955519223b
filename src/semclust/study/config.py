"""The settings of one clustering run, grouped so that functions take one object, not forty arguments.

Both dataclasses check themselves when built (:func:`check_settings`): a value of the wrong
kind or an unknown choice is a :class:`ConfigError` at once, and :meth:`RunConfig.from_dict`
(config files, ``Study.cluster(**settings)``) names unknown keys instead of dropping them.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import asdict, dataclass, field, fields

from semclust.core.errors import SemclustError


class ConfigError(SemclustError, ValueError):
    """A setting has an unknown name, a value of the wrong kind, or an unknown choice."""


#: Keys a run's config.json holds beside the settings: what the run actually used, and the
#: lineage of a refined run (semclust.exploration.refine).
RECORDED_KEYS = frozenset({"source", "custom_estimators", "parent_run", "root_run", "edits", "edits_from_root",
                           "codebook"})  # codebook: what seeded the run (semclust.study.seeded)

#: Settings with a closed set of values (the open ones, like backend names, are checked by their registry).
CHOICES = {
    "route": ("text", "image", "concat", "clip", "labels"),
    "map": ("umap", "pca", "none"),
    "keyword_method": ("tfidf", "ctfidf"),
    "clip_combine": ("concat", "mean"),
    "preset": ("auto", "arminio"),
    "device": ("auto", "cpu", "cuda"),
    "engine": ("local", "ray"),
}


@dataclass
class DescribeOptions:
    """How to talk to a vision-LLM backend (ignored by ``column:`` describers)."""

    base_url: str | None = None
    concurrency: int = 8
    requests_per_minute: float | None = None
    max_retries: int = 5
    timeout: float = 60.0
    max_side: int = 512
    temperature: float | None = None
    max_tokens: int | None = None
    retry_refused: bool = False  # ask again for images the model refused
    retry_truncated: bool = False  # ask again for answers cut off at max_tokens
    grace: float = 30.0  # seconds the first Ctrl-C waits for answers in flight
    # issue 11: cost, batch APIs, server pools, in-process models
    budget: float | None = None  # USD: stop sending once the estimated spend reaches it
    prices: str | None = None  # a TOML price file extending the shipped table
    batch: bool = False  # the provider's batch API (openai:), half price, results within 24 h
    batch_poll: float = 60.0  # seconds between batch status checks (with backoff up to 10 min)
    per_server: int | None = None  # several base URLs: requests in flight per server
    device: str | None = None  # hf:/vllm: cuda, mps, cpu (default: the best available)
    dtype: str | None = None  # hf:/vllm: bfloat16, float16, float32 (default: by device)

    def __post_init__(self) -> None:
        check_settings(self)

    @classmethod
    def from_dict(cls, data: dict) -> DescribeOptions:
        check_keys(cls, data)
        return cls(**data)


@dataclass
class RunConfig:
    """Everything that determines a run's result; saved as the run's config.json."""

    describer: str | None = None  # None = the study's current descriptions; else must match them
    prompt: str | None = None  # None = the prompt the study's descriptions were made with
    embedder: str = "st:all-MiniLM-L6-v2"
    reducer: str | None = None  # None = chosen by ``preset`` from the corpus size (semclust.study.adaptive)
    clusterer: str | None = None
    preset: str = "auto"  # auto (adapts to the corpus size) or arminio (umap:10:15 + hdbscan:50)
    device: str = "auto"  # umap/hdbscan/kmeans on a GPU through cuML: auto (when present), cpu or cuda
    engine: str = "local"  # where texts are embedded: local, or ray (a Ray cluster, semclust.stages.embed.ray_engine)
    engine_address: str | None = None  # engine=ray: the cluster's address ("auto" = the one this node joined)
    seed: int = 0
    top_k: int = 10
    keyword_method: str = "tfidf"
    extra_stop_words: list[str] = field(default_factory=list)
    map: str = "umap"  # 2-D map in the report: umap, pca or none
    route: str = "text"  # text, image, concat, clip or labels (see semclust.study.routes)
    image_embedder: str = "cnn:vgg16"
    image_weights: str | None = None  # a weights file; None = the library's cache
    image_weight: float = 1.0  # concat route: weight of the image block
    text_column: str | None = None  # clip route: the post-text column (None = the descriptions)
    clip_combine: str = "concat"  # clip route: concat (zhang-leung) or mean of the two unit vectors
    keep_groups: int | None = None  # labels route: keep only the largest groups
    fit_sample: int | None = None  # fit on N random items, assign the rest; None = auto, 0 = never
    describe: DescribeOptions = field(default_factory=DescribeOptions)

    def __post_init__(self) -> None:
        if isinstance(self.describe, dict):
            self.describe = DescribeOptions.from_dict(self.describe)
        check_settings(self)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Settings from a mapping (a run's config.json works: what it records besides is skipped)."""
        data = dict(data)
        check_keys(cls, data, RECORDED_KEYS)
        for key in RECORDED_KEYS & set(data):
            data.pop(key)
        return cls(**data)

    @classmethod
    def from_file(cls, path) -> RunConfig:
        """Settings from a YAML or JSON file (a run's config.json works as is)."""
        import json
        from pathlib import Path

        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def check_keys(cls, data: dict, also: typing.Iterable[str] = ()) -> None:
    """Unknown keys are an error that names them (with the nearest known name)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} settings must be a mapping, got {type(data).__name__}")
    known = [f.name for f in fields(cls)]
    unknown = [k for k in data if k not in known and k not in set(also)]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"unknown {cls.__name__} setting{'s' if len(unknown) > 1 else ''}: "
                          f"{', '.join(hints)}; known: {', '.join(known)}")


def check_settings(obj) -> None:
    """Every field holds a value of its annotated type, and closed choices hold a listed value."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        if not _matches(value, hints[f.name]):
            raise ConfigError(f"{type(obj).__name__}.{f.name} must be {_describe(hints[f.name])}, got {value!r}")
        allowed = CHOICES.get(f.name) if isinstance(obj, RunConfig) else None
        if allowed and value not in allowed:
            raise ConfigError(f"{f.name} must be one of {', '.join(allowed)}, got {value!r}")


def _matches(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list | tuple) and all(_matches(v, item) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) is list:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    return {str: "text", int: "a whole number", float: "a number", bool: "True or False"}.get(hint, hint.__name__)
