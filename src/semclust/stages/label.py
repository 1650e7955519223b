"""Cluster labels: the top-k terms of each cluster, as in the paper's Table 1.

``method="tfidf"`` is the paper's procedure: join the descriptions of each cluster
into one document and rank terms by TF-IDF across those documents (scikit-learn's
smoothed idf, l2-normalised rows).  ``method="ctfidf"`` is BERTopic's class-based
TF-IDF (term frequency in the class, l1-normalised, times ``log(1 + A / f_t)`` with
``A`` the mean number of words per class), which favours terms frequent within a
class over terms merely rare elsewhere.

Outliers (-1) are no cluster: the document frequencies come from the clusters' documents
only, so how many items a run leaves out does not change any cluster's keywords. The
outliers still get keywords, scored with the clusters' IDF. Texts are read as plain text
first: HTML tags, character entities and links in post text are not words of a theme.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from semclust.core.errors import SemclustError
from semclust.core.stopwords import description_stop_words

OUTLIER = -1
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MARKUP_HINT = re.compile(r"<[a-zA-Z/!]|&(?:#\d+|#x[0-9a-fA-F]+|\w+);")


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
        texts = [plain_text(t) for t in texts]
        labels = np.asarray(labels)
        if len(texts) != len(labels):
            raise SemclustError(f"{len(texts)} texts but {len(labels)} labels")
        self.clusters_ = np.unique(labels)
        documents = [" ".join(t for t, lab in zip(texts, labels, strict=True) if lab == c)
                     for c in self.clusters_]
        clusters = self.clusters_ != OUTLIER
        fit_rows = clusters if clusters.any() else ~clusters  # only outliers: they are all there is
        stop_words = sorted(description_stop_words(set(self.extra_stop_words)))
        counter = CountVectorizer(stop_words=stop_words, ngram_range=self.ngram_range)
        try:
            counts = counter.fit_transform(documents).toarray().astype(float)
        except ValueError:  # every word was a stop word or texts were empty
            counts, terms = np.zeros((len(documents), 0)), np.array([])
        else:
            terms = counter.get_feature_names_out()
            frequent = (counts[fit_rows] > 0).sum(axis=0) >= self.min_df
            if self.min_df > 1:  # document frequency among the clusters' documents
                counts, terms = counts[:, frequent], terms[frequent]
        if not len(terms):
            scores = counts
        elif self.method == "tfidf":  # idf from the clusters; outlier-only words get the largest
            idf = TfidfTransformer().fit(counts[fit_rows])
            scores = idf.transform(counts).toarray()
        else:
            scores = class_tfidf(counts, fit_rows)
        self.keywords_ = {}
        for row, cluster in enumerate(self.clusters_):
            order = np.argsort(-scores[row], kind="stable")[: self.top_k] if len(terms) else []
            self.keywords_[int(cluster)] = [(str(terms[j]), float(scores[row, j])) for j in order
                                            if scores[row, j] > 0]
        return self

    def keywords_for(self, cluster: int) -> list[tuple[str, float]]:
        check_is_fitted(self, "keywords_")
        return self.keywords_.get(int(cluster), [])


def plain_text(text) -> str:
    """``text`` without HTML tags, entities and links; missing values become ""."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    text = str(text)
    if _MARKUP_HINT.search(text):
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = " ".join(parser.parts)
    return _LINK.sub(" ", html.unescape(text))


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment, leaving out tags, scripts and styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def class_tfidf(counts: np.ndarray, fit_rows: np.ndarray | None = None) -> np.ndarray:
    """BERTopic's c-TF-IDF on a (classes x terms) count matrix.

    ``A`` (mean words per class) and the term totals come from the rows ``fit_rows``
    (default: all), and every row is scored with them.
    """
    if counts.size == 0:
        return counts
    reference = counts if fit_rows is None else counts[np.asarray(fit_rows, dtype=bool)]
    tf = normalize(counts, norm="l1")
    term_totals = reference.sum(axis=0)
    mean_words = reference.sum() / reference.shape[0]
    idf = np.log(1.0 + mean_words / np.maximum(term_totals, 1e-12))
    return tf * idf
