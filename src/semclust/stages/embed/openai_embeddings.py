"""``openai:MODEL``: an OpenAI-compatible /embeddings endpoint (key from the environment only).

Batches are sent one after another; 429s, 5xx, timeouts and dropped connections are
retried with the describers' policy (the server's Retry-After when it gives one, else
jittered exponential backoff), and ``requests_per_minute`` spaces the requests out.
:meth:`OpenAIEmbedder.iter_batches` yields each batch's vectors as they arrive, so the
study stores them at once: a failure late in a long run loses only the batch in flight.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import httpx
import numpy as np

from semclust.core.errors import SemclustError
from semclust.core.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 409, 425, 429})


class OpenAIEmbedder:
    corpus_dependent = False

    def __init__(self, model: str = "text-embedding-3-small", base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", batch_size: int = 256, timeout: float = 60.0,
                 max_retries: int = 5, requests_per_minute: float | None = None,
                 base_delay: float = 1.0, max_delay: float = 60.0):
        self.name = f"openai:{model}"
        self.model = model
        # OPENAI_BASE_URL as in OpenAI's own client: a compatible server without code changes
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.timeout = timeout
        self.policy = RetryPolicy(max_retries, base_delay, max_delay)
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_start = 0.0

    @classmethod
    def from_spec(cls, args: str, **options) -> OpenAIEmbedder:
        return cls(args or "text-embedding-3-small", **options)

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        parts = [vectors for _, vectors in self.iter_batches(texts)]
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def iter_batches(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, vectors)`` for each batch of ``batch_size`` texts, in order, as each arrives."""
        with httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self._headers()) as client:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                yield start, self._post_with_retries(client, batch, start)

    def _post_with_retries(self, client: httpx.Client, batch: list[str], start: int) -> np.ndarray:
        for retry in range(self.policy.max_retries + 1):
            self._wait_for_slot()
            try:
                response = client.post("/embeddings", json={"model": self.model, "input": batch})
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem, wait = f"{type(exc).__name__}: {exc}", None
            else:
                if response.status_code == 200:
                    return self._vectors(response, len(batch))
                if response.status_code not in RETRYABLE and response.status_code < 500:
                    raise SemclustError(self._failure(response, start))
                problem, wait = self._failure(response, start), parse_retry_after(response.headers)
            if retry == self.policy.max_retries:
                raise SemclustError(f"gave up after {retry + 1} attempts: {problem}; "
                                    "the batches before it are stored, run again to continue")
            delay = min(wait, MAX_RETRY_AFTER) if wait is not None else self.policy.delay(retry)
            log.info("embeddings: retrying in %.1f s (%s)", delay, problem)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _wait_for_slot(self) -> None:
        """Start requests at least ``60 / requests_per_minute`` seconds apart."""
        now = time.monotonic()
        if self._next_start > now:
            time.sleep(self._next_start - now)
        self._next_start = max(now, self._next_start) + self.interval

    def _failure(self, response: httpx.Response, start: int) -> str:
        return (f"embeddings request to {self.base_url} (texts {start}-{start + self.batch_size - 1}) failed "
                f"with HTTP {response.status_code}: {response.text[:300]}")

    def _vectors(self, response: httpx.Response, n: int) -> np.ndarray:
        try:
            data = sorted(response.json()["data"], key=lambda d: d["index"])
            vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise SemclustError(f"malformed embeddings response from {self.base_url}") from exc
        if vectors.ndim != 2 or len(vectors) != n:
            raise SemclustError(f"{self.base_url} returned {len(vectors)} embeddings for {n} texts")
        return vectors
