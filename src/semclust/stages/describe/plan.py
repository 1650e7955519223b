"""What a describe run would do, before anything is sent: ``semclust describe --dry-run``."""

from __future__ import annotations

from dataclasses import dataclass

from semclust.stages.describe.base import Describer, DescriptionCache
from semclust.stages.describe.cost import (
    Budget,
    Estimate,
    Price,
    estimate,
    mean_completion_tokens,
    price_for,
)
from semclust.stages.describe.runner import description_key


@dataclass
class DescribePlan:
    """Distinct images, those already described, and the estimate for the rest."""

    describer: str
    images: int
    cached: int
    estimate: Estimate  # of the images still to send
    price: Price | None
    batch: bool

    @property
    def to_send(self) -> int:
        return self.images - self.cached

    def budget(self, limit: float | None) -> Budget:
        """A meter for the run (and a stop at ``limit`` USD when given)."""
        return Budget(limit, self.price, self.estimate.per_image or 0.0, self.batch)

    def __str__(self) -> str:
        e = self.estimate
        lines = [
            f"describer {self.describer}{' (batch API)' if self.batch else ''}",
            f"distinct images: {self.images:,}; already described: {self.cached:,}; "
            f"to send: {self.to_send:,}",
            f"estimated tokens: {e.prompt_tokens:,} in + {e.completion_tokens:,} out "
            f"(answer length: {e.completion_basis})",
        ]
        if e.cost is None:
            lines.append("estimated cost: unknown (no price for this model: add it with --prices FILE)")
        else:
            discount = f", batch price x{self.price.batch:g}" if self.batch and self.price else ""
            lines.append(f"estimated cost: ${e.cost:,.4f}{discount}")
        return "\n".join(lines)


def plan_describe(
    images: list[tuple[str, int, int]],
    describer: Describer,
    prompt: str,
    cache: DescriptionCache,
    *,
    max_side: int | None,
    prices: dict,
    batch: bool = False,
) -> DescribePlan:
    """Plan describing ``(sha256, width, height)`` images; nothing is sent.

    Images with a stored ``ok`` or ``refused`` record count as described (as in a run with
    the default retry settings); ``failed`` ones would be sent again.
    """
    unique = {sha: (w, h) for sha, w, h in images}
    keys = {sha: description_key(sha, describer, prompt, max_side) for sha in unique}
    stored = cache.get_many(list(keys.values()))
    cached = {sha for sha, key in keys.items() if key in stored and stored[key].status != "failed"}
    price = price_for(describer.name, describer.model, prices)
    mean, basis = mean_completion_tokens(list(stored.values()))
    detail = describer.generation_params().get("detail")
    sizes = [size for sha, size in unique.items() if sha not in cached]
    result = estimate(sizes, prompt, price, max_side=max_side, detail=detail, batch=batch,
                      completion_tokens=mean, completion_basis=basis)
    return DescribePlan(f"{describer.name}:{describer.model}", len(unique), len(cached), result,
                        price, batch)
