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


def truncate_to_tokens(tokenizer, text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to what a model that reads ``limit`` tokens (special tokens included) sees,
    and the number of tokens the whole text has; the cut falls at a token boundary."""
    encoded = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
    n_tokens = len(encoded["input_ids"])
    if n_tokens <= limit:
        return text, n_tokens
    kept = [end for start, end in encoded["offset_mapping"][: limit - 1] if end > start]
    return text[: kept[-1]] if kept else "", n_tokens
