"""``openai:MODEL``: an OpenAI-compatible /embeddings endpoint (key from the environment only)."""

from __future__ import annotations

import os

import httpx
import numpy as np

from ..errors import SemclustError


class OpenAIEmbedder:
    corpus_dependent = False

    def __init__(self, model: str = "text-embedding-3-small", base_url: str = "https://api.openai.com/v1",
                 api_key_env: str = "OPENAI_API_KEY", batch_size: int = 256, timeout: float = 60.0):
        self.name = f"openai:{model}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.timeout = timeout

    @classmethod
    def from_spec(cls, args: str, **options) -> OpenAIEmbedder:
        return cls(args or "text-embedding-3-small", **options)

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        with httpx.Client(base_url=self.base_url, timeout=self.timeout, headers=self._headers()) as client:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                response = client.post("/embeddings", json={"model": self.model, "input": batch})
                if response.status_code != 200:
                    raise SemclustError(
                        f"embeddings request to {self.base_url} failed with HTTP {response.status_code}: "
                        f"{response.text[:300]}"
                    )
                try:
                    data = sorted(response.json()["data"], key=lambda d: d["index"])
                    rows.extend(d["embedding"] for d in data)
                except (ValueError, KeyError, TypeError) as exc:
                    raise SemclustError(f"malformed embeddings response from {self.base_url}") from exc
        return np.asarray(rows, dtype=np.float32)
