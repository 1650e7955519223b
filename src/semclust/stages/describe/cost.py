"""What describing costs: a price table per model, token estimates, and a budget that stops sending.

Prices live in ``prices.toml`` next to this module (USD per million tokens, the batch
discount and OpenAI's image-token rule); a user's own file extends or overrides it.
Estimates before a run use OpenAI's published tiling rule for image tokens, about four
characters per text token for the prompt, and the mean answer length of descriptions
already in the study (else :data:`DEFAULT_COMPLETION_TOKENS`). During a run the provider's
own token counts replace the estimates as answers arrive.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from semclust.core.store.records import DescriptionRecord
from semclust.stages.describe.errors import DescriberConfigError

#: Backends that run on the user's own hardware: no per-token price.
LOCAL_BACKENDS = frozenset({"ollama", "hf", "vllm"})
#: Answer length assumed before any description of this model exists (a paragraph).
DEFAULT_COMPLETION_TOKENS = 150
#: Chat-format overhead per request (role markers, image placeholder), in tokens.
REQUEST_OVERHEAD_TOKENS = 10


@dataclass(frozen=True)
class Price:
    """USD per million tokens; ``batch`` multiplies both under a provider's batch API."""

    input: float
    output: float
    batch: float = 1.0
    image_base: int = 85
    image_tile: int = 170

    def cost(self, prompt_tokens: float, completion_tokens: float, batch: bool = False) -> float:
        usd = (prompt_tokens * self.input + completion_tokens * self.output) / 1e6
        return usd * (self.batch if batch else 1.0)

    def image_tokens(self, width: int, height: int, detail: str | None) -> int:
        """OpenAI's rule: ``low`` is a flat base; otherwise fit 2048², shortest side 768, 512-px tiles."""
        if detail == "low":
            return self.image_base
        scale = min(1.0, 2048 / max(width, height))
        width, height = width * scale, height * scale
        scale = min(1.0, 768 / min(width, height))
        width, height = width * scale, height * scale
        return self.image_base + self.image_tile * math.ceil(width / 512) * math.ceil(height / 512)


FREE = Price(0.0, 0.0, 1.0, 0, 0)


def load_prices(extra: str | Path | None = None) -> dict[tuple[str, str], Price]:
    """The shipped price table, overridden model by model by ``extra`` (a TOML file)."""
    tables = [tomllib.loads(resources.files(__package__).joinpath("prices.toml").read_text())]
    if extra is not None:
        try:
            tables.append(tomllib.loads(Path(extra).read_text(encoding="utf-8")))
        except OSError as exc:
            raise DescriberConfigError(f"cannot read the price file {extra}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise DescriberConfigError(f"the price file {extra} is not valid TOML: {exc}") from None
    prices: dict[tuple[str, str], Price] = {}
    for table in tables:
        for backend, models in table.items():
            for model, fields in models.items():
                prices[(backend, model)] = _price(backend, model, fields, extra)
    return prices


def _price(backend: str, model: str, fields: Any, source: Any) -> Price:
    known = set(Price.__dataclass_fields__)
    if not isinstance(fields, dict) or not {"input", "output"} <= set(fields) or set(fields) - known:
        raise DescriberConfigError(
            f"price of {backend}:{model} in {source or 'prices.toml'} needs input and output "
            f"(USD per 1M tokens) and may have {', '.join(sorted(known - {'input', 'output'}))}; "
            f"got {fields!r}"
        )
    integers = ("image_base", "image_tile")
    try:
        return Price(**{k: int(v) if k in integers else float(v) for k, v in fields.items()})
    except (TypeError, ValueError):
        raise DescriberConfigError(f"price of {backend}:{model}: numbers expected, got {fields!r}") from None


def price_for(backend: str, model: str, prices: dict[tuple[str, str], Price]) -> Price | None:
    """The model's price; free for local backends; ``None`` when unknown.

    Dated snapshots match their family (``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``).
    """
    if backend in LOCAL_BACKENDS:
        return FREE
    if (backend, model) in prices:
        return prices[(backend, model)]
    family = [m for (b, m) in prices if b == backend and model.startswith(m + "-")]
    return prices[(backend, max(family, key=len))] if family else None


@dataclass
class Estimate:
    """What sending ``images`` requests would take; ``cost`` is ``None`` when the price is unknown."""

    images: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    completion_basis: str  # where the answer length comes from

    @property
    def per_image(self) -> float | None:
        return None if self.cost is None or not self.images else self.cost / self.images


def estimate(
    sizes: list[tuple[int, int]],
    prompt: str,
    price: Price | None,
    *,
    max_side: int | None,
    detail: str | None = None,
    batch: bool = False,
    completion_tokens: float | None = None,
    completion_basis: str = "",
) -> Estimate:
    """Estimate tokens and cost of describing images of the given (width, height)."""
    text_tokens = math.ceil(len(prompt) / 4) + REQUEST_OVERHEAD_TOKENS
    rule = price if price is not None and price is not FREE else Price(0, 0)
    prompt_total = 0
    for width, height in sizes:
        scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
        prompt_total += text_tokens + rule.image_tokens(
            max(1, round(width * scale)), max(1, round(height * scale)), detail
        )
    if completion_tokens is None:
        completion_tokens, completion_basis = DEFAULT_COMPLETION_TOKENS, "assumed (no descriptions yet)"
    completion_total = round(completion_tokens * len(sizes))
    cost = None if price is None else price.cost(prompt_total, completion_total, batch)
    return Estimate(len(sizes), prompt_total, completion_total, cost, completion_basis)


def mean_completion_tokens(records: list[DescriptionRecord]) -> tuple[float | None, str]:
    """Mean answer length of stored ``ok`` descriptions, and a phrase saying so."""
    counts = [r.completion_tokens for r in records if r.status == "ok" and r.completion_tokens]
    if not counts:
        return None, ""
    return sum(counts) / len(counts), f"mean of {len(counts)} descriptions in the study"


class Budget:
    """Stops sending once spent + reserved would pass ``limit`` USD.

    Each image reserves its estimated cost before it is sent and settles at the actual
    cost (from the provider's token counts) when its answer is stored, so requests in
    flight count against the budget too.
    """

    def __init__(self, limit: float | None, price: Price | None, per_image: float, batch: bool = False):
        if limit is not None and (isinstance(limit, bool) or not limit > 0):
            raise DescriberConfigError(f"budget must be a positive number of USD, got {limit!r}")
        if limit is not None and price is None:
            raise DescriberConfigError(
                "--budget needs the model's price, and this model has none in the price table: "
                "add it with --prices FILE (see docs/describers.md)"
            )
        self.limit = limit
        self.price = price
        self.per_image = per_image
        self.batch = batch
        self.spent = 0.0
        self.reserved = 0.0
        self.exhausted = False

    def reserve(self) -> bool:
        """Claim one image's estimated cost; ``False`` (and :attr:`exhausted`) when it does not fit."""
        if self.limit is not None and self.spent + self.reserved + self.per_image > self.limit:
            self.exhausted = True
            return False
        self.reserved += self.per_image
        return True

    def settle(self, record: DescriptionRecord) -> None:
        """Replace the reservation by what the answer cost (the estimate when no usage came back)."""
        self.reserved = max(0.0, self.reserved - self.per_image)
        self.spent += self.cost_of(record)

    def cost_of(self, record: DescriptionRecord) -> float:
        if self.price is None:
            return 0.0
        if record.prompt_tokens is None and record.completion_tokens is None:
            return self.per_image if record.status != "failed" else 0.0
        return self.price.cost(record.prompt_tokens or 0, record.completion_tokens or 0, self.batch)
