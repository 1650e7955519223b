"""Words one set of texts uses more than another: weighted log-odds with an informative Dirichlet prior.

Monroe, Colaresi & Quinn (2008), "Fightin' Words", eq. 16-22. For word ``w`` with counts
``y_i``, ``y_j`` in the two corpora (sizes ``n_i``, ``n_j``) and prior ``a_w`` (summing to
``a_0``):

    delta_w = log((y_i + a_w) / (n_i + a_0 - y_i - a_w)) - log((y_j + a_w) / (n_j + a_0 - y_j - a_w))
    var(delta_w) ~= 1 / (y_i + a_w) + 1 / (y_j + a_w)
    z_w = delta_w / sqrt(var(delta_w))

The informative prior is the words' share in both corpora together, scaled to ``a_0``
(default: the combined corpus size, i.e. ``a_w`` is the word's combined count), which
shrinks rare words toward zero so that a word used twice does not top the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError


def word_counts(texts: Iterable[str], stop_words: Iterable[str] = ()) -> pd.Series:
    """Lower-cased word counts (scikit-learn's tokenizer: words of two or more letters)."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        return pd.Series(dtype="int64")
    vectorizer = CountVectorizer(stop_words=sorted(set(stop_words)) or None)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words
        return pd.Series(dtype="int64")
    return pd.Series(np.asarray(matrix.sum(axis=0)).ravel(), index=vectorizer.get_feature_names_out())


def weighted_log_odds(
    counts_i: pd.Series, counts_j: pd.Series, prior: pd.Series | None = None, prior_size: float | None = None
) -> pd.DataFrame:
    """Per word: counts, ``delta`` (log-odds ratio of i over j), its variance and ``z``; sorted by ``z``.

    ``prior`` gives the prior's word shares (default: the two corpora combined);
    ``prior_size`` is ``a_0`` (default: the combined number of words).
    """
    words = counts_i.index.union(counts_j.index)
    y_i = counts_i.reindex(words, fill_value=0).astype(float)
    y_j = counts_j.reindex(words, fill_value=0).astype(float)
    n_i, n_j = y_i.sum(), y_j.sum()
    if n_i == 0 or n_j == 0:
        raise SemclustError("both sets of texts need at least one word to compare")
    shares = (y_i + y_j) if prior is None else prior.reindex(words, fill_value=0).astype(float)
    if (shares <= 0).any():
        raise SemclustError("the prior must give every compared word a positive count")
    a_0 = float(prior_size) if prior_size is not None else n_i + n_j
    alpha = shares / shares.sum() * a_0
    delta = (np.log((y_i + alpha) / (n_i + a_0 - y_i - alpha))
             - np.log((y_j + alpha) / (n_j + a_0 - y_j - alpha)))
    variance = 1.0 / (y_i + alpha) + 1.0 / (y_j + alpha)
    table = pd.DataFrame({"word": words, "count_a": y_i.astype(int).to_numpy(),
                          "count_b": y_j.astype(int).to_numpy(), "delta": delta.to_numpy(),
                          "variance": variance.to_numpy()})
    table["z"] = table["delta"] / np.sqrt(table["variance"])
    return table.sort_values("z", ascending=False, ignore_index=True)


def distinctive_words(table: pd.DataFrame, top: int = 20, z_min: float = 1.96) -> tuple[Sequence[str], Sequence[str]]:
    """The ``top`` words of each side with ``|z| >= z_min`` (a: most positive, b: most negative)."""
    a = table[table["z"] >= z_min].head(top)["word"].tolist()
    b = table[table["z"] <= -z_min].sort_values("z").head(top)["word"].tolist()
    return a, b
