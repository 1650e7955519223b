"""The plain records of describing: cache keys, backend answers and stored outcomes.

Kept apart from :mod:`semclust.describe.base` so that the error types can carry a partial
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
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. finish_reason, served model


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
    extra: dict[str, Any] = field(default_factory=dict)
