"""The text-embedder interface: a batch of texts in, one row per text out."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class TextEmbedder(Protocol):
    """A text embedding backend.

    ``name`` is the cache key.  ``corpus_dependent`` embedders (TF-IDF) give a text a
    different vector depending on the other texts, so they are never cached per text.
    """

    name: str
    corpus_dependent: bool

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim)."""
        ...
