"""``tfidf:K``: each description as its top-K TF-IDF terms (the papers' appendix variant)."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from semclust.core.errors import SemclustError
from semclust.core.stopwords import description_stop_words


class TfidfTopKEmbedder:
    """Sparse TF-IDF rows where only each text's K highest-weighted terms are kept."""

    corpus_dependent = True

    def __init__(self, top_k: int = 20, max_features: int = 4096):
        if top_k < 1:
            raise SemclustError(f"tfidf:K needs K >= 1, got {top_k}")
        self.top_k = top_k
        self.max_features = max_features
        self.name = f"tfidf:{top_k}"

    @classmethod
    def from_spec(cls, args: str, **options) -> TfidfTopKEmbedder:
        return cls(top_k_arg(args), **options)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        vectorizer = TfidfVectorizer(
            stop_words=sorted(description_stop_words()), max_features=self.max_features,
            sublinear_tf=True,
        )
        matrix = vectorizer.fit_transform(texts).toarray().astype(np.float32)
        if matrix.shape[1] > self.top_k:
            # exactly K per text: among tied weights the earlier vocabulary term wins
            order = np.argsort(-matrix, axis=1, kind="stable")[:, : self.top_k]
            kept = np.zeros_like(matrix, dtype=bool)
            np.put_along_axis(kept, order, True, axis=1)
            matrix[~kept] = 0.0
        return normalize(matrix).astype(np.float32)


def top_k_arg(args: str) -> int:
    """``tfidf:K``'s K (default 20), a whole number >= 1."""
    try:
        top_k = int(args) if args else 20
    except ValueError as exc:
        raise SemclustError(f"tfidf:K needs an integer K, got {args!r}") from exc
    if top_k < 1:
        raise SemclustError(f"tfidf:K needs K >= 1, got {top_k}")
    return top_k
