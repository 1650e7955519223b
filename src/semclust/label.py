"""Cluster labels: the top-k terms of each cluster, as in the paper's Table 1.

``method="tfidf"`` is the paper's procedure: join the descriptions of each cluster
into one document and rank terms by TF-IDF across those documents (scikit-learn's
smoothed idf, l2-normalised rows).  ``method="ctfidf"`` is BERTopic's class-based
TF-IDF (term frequency in the class, l1-normalised, times ``log(1 + A / f_t)`` with
``A`` the mean number of words per class), which favours terms frequent within a
class over terms merely rare elsewhere.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from .errors import SemclustError
from .stopwords import description_stop_words


class ClusterKeywords(BaseEstimator):
    """Fit on (texts, labels); ``keywords_[cluster]`` is a list of (term, score), best first."""

    def __init__(self, top_k: int = 10, method: str = "tfidf", extra_stop_words=(), ngram_range=(1, 1),
                 min_df: int = 1):
        self.top_k = top_k
        self.method = method
        self.extra_stop_words = extra_stop_words
        self.ngram_range = ngram_range
        self.min_df = min_df

    def fit(self, texts, labels):
        if self.method not in ("tfidf", "ctfidf"):
            raise SemclustError(f"keyword method must be 'tfidf' or 'ctfidf', got {self.method!r}")
        if self.top_k < 1:
            raise SemclustError(f"top_k must be >= 1, got {self.top_k}")
        texts = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
        labels = np.asarray(labels)
        if len(texts) != len(labels):
            raise SemclustError(f"{len(texts)} texts but {len(labels)} labels")
        self.clusters_ = np.unique(labels)
        documents = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == c)
                     for c in self.clusters_]
        stop_words = sorted(description_stop_words(set(self.extra_stop_words)))
        if self.method == "tfidf":
            vectorizer = TfidfVectorizer(stop_words=stop_words, ngram_range=self.ngram_range,
                                         min_df=self.min_df)
            try:
                scores = vectorizer.fit_transform(documents).toarray()
            except ValueError:  # every word was a stop word or texts were empty
                scores = np.zeros((len(documents), 0))
                vectorizer.vocabulary_ = {}
        else:
            vectorizer = CountVectorizer(stop_words=stop_words, ngram_range=self.ngram_range,
                                         min_df=self.min_df)
            try:
                counts = vectorizer.fit_transform(documents).toarray().astype(float)
            except ValueError:
                counts = np.zeros((len(documents), 0))
                vectorizer.vocabulary_ = {}
            scores = class_tfidf(counts)
        terms = np.array(sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get))
        self.keywords_ = {}
        for row, cluster in enumerate(self.clusters_):
            order = np.argsort(-scores[row], kind="stable")[: self.top_k] if len(terms) else []
            self.keywords_[int(cluster)] = [(str(terms[j]), float(scores[row, j])) for j in order
                                            if scores[row, j] > 0]
        return self

    def keywords_for(self, cluster: int) -> list[tuple[str, float]]:
        check_is_fitted(self, "keywords_")
        return self.keywords_.get(int(cluster), [])


def class_tfidf(counts: np.ndarray) -> np.ndarray:
    """BERTopic's c-TF-IDF on a (classes x terms) count matrix."""
    if counts.size == 0:
        return counts
    tf = normalize(counts, norm="l1")
    term_totals = counts.sum(axis=0)
    mean_words = counts.sum() / counts.shape[0]
    idf = np.log(1.0 + mean_words / np.maximum(term_totals, 1e-12))
    return tf * idf
