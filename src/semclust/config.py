"""The settings of one clustering run, grouped so that functions take one object, not forty arguments."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass
class RunConfig:
    """Everything that determines a run's result; saved as the run's config.json."""

    describer: str = "column:description"
    prompt: str = "connotative"
    embedder: str = "st:all-MiniLM-L6-v2"
    reducer: str = "umap:10:15"
    clusterer: str = "hdbscan:50"
    seed: int = 0
    top_k: int = 10
    keyword_method: str = "tfidf"
    extra_stop_words: list[str] = field(default_factory=list)
    map: str = "umap"  # 2-D map in the report: umap, pca or none
    route: str = "text"  # text, image, concat, clip or labels (see semclust.routes)
    image_embedder: str = "cnn:vgg16"
    image_weights: str | None = None  # a weights file; None = the library's cache
    image_weight: float = 1.0  # concat route: weight of the image block
    text_column: str | None = None  # clip route: the post-text column (None = the descriptions)
    clip_combine: str = "concat"  # clip route: concat (zhang-leung) or mean of the two unit vectors
    keep_groups: int | None = None  # labels route: keep only the largest groups
    fit_sample: int | None = None  # fit on N random items, assign the rest; None = auto, 0 = never
    describe: DescribeOptions = field(default_factory=DescribeOptions)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        data = dict(data)
        describe = DescribeOptions(**data.pop("describe", {}))
        known = {f for f in cls.__dataclass_fields__}
        return cls(describe=describe, **{k: v for k, v in data.items() if k in known})
