"""The plain records of describing: cache keys, backend answers and stored outcomes.

Kept apart from :mod:`semclust.stages.describe.base` so that the error types can carry a partial
:class:`Description` without importing the backend interface.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed", "refused"]


@dataclass(frozen=True)
class DescriptionKey:
    """What makes two descriptions interchangeable: same bytes, model, prompt and parameters."""

    sha256: str
    describer: str  # backend name, e.g. "openai"
    model: str
    prompt: str
    params: str = "{}"  # canonical JSON of generation parameters (temperature, max_tokens, ...)

    @property
    def prompt_hash(self) -> str:
        return hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()

    @property
    def params_hash(self) -> str:
        return hashlib.sha256(self.params.encode("utf-8")).hexdigest()


def canonical_params(params: dict[str, Any]) -> str:
    """Stable JSON for the cache key, so {"a":1,"b":2} and {"b":2,"a":1} hit the same entry."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


@dataclass
class Description:
    """What a backend returns for one image."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None  # "stop", "length" (cut off at max_tokens), ...
    served_model: str | None = None  # the model the server says answered (may differ from the one asked)
    extra: dict[str, Any] = field(default_factory=dict)  # anything else a backend wants kept


@dataclass
class DescriptionRecord:
    """A stored outcome (success, failure or refusal) of describing one image."""

    key: DescriptionKey
    status: Status
    text: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    seconds: float | None = None
    finish_reason: str | None = None
    served_model: str | None = None
    attempts: int | None = None  # requests sent for this image, retries included
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        """The answer was cut off at the token limit, so the description is incomplete."""
        return self.finish_reason == "length"
