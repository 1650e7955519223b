"""Assigning items to the codes of a codebook: cosine similarity to each code, and the threshold
below which an item fits no code (chosen from the data, per code, unless given).

The threshold rule (:func:`auto_thresholds`, explained in docs/codebook.md), for each code c:

1. *What unrelated looks like.* The similarities to c of the items whose nearest code is
   another one are items that are not c's. The *null cutoff* of c is their 95th percentile:
   an item must be closer to c than 95% of the items that are not c's.
2. *Two groups among c's nearest items.* A two-component Gaussian mixture is fitted to the
   similarities of the items nearest c (at least 20 of them). When BIC prefers two components
   to one, the two are well apart (Ashman's D > 2) and the lower one sits at the unrelated
   level (its mean below the null cutoff), the lower group is items that happen to be nearest
   c but fit it no better than unrelated items: the threshold is where the two components are
   equally likely.
3. Otherwise the threshold of c is its null cutoff.

Per code, because codes differ in how close their members come to their text: a short
definition of a concrete scene ("wind turbines") sits nearer its images than an abstract
one, and one global threshold sends a whole abstract code to "no code".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import normalize

#: The share of the unrelated similarities to a code an item must beat to fit it.
NULL_QUANTILE = 0.95
#: Ashman's D above which two Gaussian components count as two modes.
SEPARATION = 2.0
#: Fewer nearest items than this cannot support a mixture; the null cutoff is used.
MIN_ITEMS_FOR_MIXTURE = 20
#: The share of a code's members shown as its exemplars (most similar) and as borderline (least).
EDGE_SHARE = 0.10


@dataclass(frozen=True)
class Threshold:
    """One code's threshold and how it was chosen (recorded in the run's config)."""

    value: float
    rule: str  # "given", "mixture" or "null"
    null_cutoff: float | None = None
    mixture_separation: float | None = None

    def to_dict(self) -> dict:
        return {"value": round(self.value, 6), "rule": self.rule,
                "null_cutoff": None if self.null_cutoff is None else round(self.null_cutoff, 6),
                "mixture_separation": None if self.mixture_separation is None else round(self.mixture_separation, 3)}


@dataclass(frozen=True)
class CodeAssignment:
    """Per item: the code it was given (-1 = none), its nearest code and the similarities."""

    code: np.ndarray  # index of the assigned code, -1 where the nearest code's threshold is not reached
    nearest: np.ndarray  # index of the nearest code, for every item
    similarity: np.ndarray  # similarity to the nearest code
    second: np.ndarray  # similarity to the second-nearest code (nan with a single code)
    thresholds: list[Threshold]  # one per code


def code_similarities(items: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Cosine similarity of every item (rows) to every code (columns)."""
    return normalize(np.asarray(items, dtype=np.float64)) @ normalize(np.asarray(codes, dtype=np.float64)).T


def best_two(similarities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index of the nearest code, its similarity, and the second-best similarity (nan for one code)."""
    nearest = np.argmax(similarities, axis=1)
    best = similarities[np.arange(len(similarities)), nearest]
    if similarities.shape[1] < 2:
        return nearest, best, np.full(len(best), np.nan)
    second = np.partition(similarities, -2, axis=1)[:, -2]
    return nearest, best, second


def auto_thresholds(similarities: np.ndarray, seed: int = 0) -> list[Threshold]:
    """One threshold per code, chosen from the data (module docstring)."""
    nearest, best, _ = best_two(similarities)
    thresholds = []
    for c in range(similarities.shape[1]):
        unrelated = similarities[nearest != c, c]
        mine = best[nearest == c]
        if len(unrelated):
            null_cutoff = float(np.quantile(unrelated, NULL_QUANTILE))
        else:  # every item is nearest this code: nothing says what unrelated looks like
            null_cutoff = float(np.min(mine)) if len(mine) else 1.0
        split = _mixture_split(mine, seed) if len(mine) >= MIN_ITEMS_FOR_MIXTURE else None
        if split is not None and split[2] < null_cutoff:
            thresholds.append(Threshold(split[0], "mixture", null_cutoff, split[1]))
        else:
            thresholds.append(Threshold(null_cutoff, "null", null_cutoff, None if split is None else split[1]))
    return thresholds


def _mixture_split(best: np.ndarray, seed: int) -> tuple[float, float, float] | None:
    """``(boundary, Ashman's D, lower mean)`` of a two-mode fit of ``best``, or None for one mode."""
    x = best.reshape(-1, 1)
    one = GaussianMixture(1, random_state=seed).fit(x)
    two = GaussianMixture(2, random_state=seed, n_init=3).fit(x)
    if two.bic(x) >= one.bic(x):
        return None
    means = two.means_.ravel()
    sds = np.sqrt(two.covariances_.ravel())
    low, high = np.argsort(means)
    separation = float(np.sqrt(2) * (means[high] - means[low]) / np.sqrt(sds[low] ** 2 + sds[high] ** 2))
    if separation <= SEPARATION:
        return None
    grid = np.linspace(means[low], means[high], 512).reshape(-1, 1)
    posterior_high = two.predict_proba(grid)[:, high]
    boundary = float(grid[np.argmax(posterior_high >= 0.5), 0])
    return boundary, separation, float(means[low])


def assign_codes(similarities: np.ndarray, min_similarity: float | None = None, seed: int = 0) -> CodeAssignment:
    """Each item to its nearest code where the similarity reaches that code's threshold
    (``min_similarity`` for every code, or ``None``: chosen per code by :func:`auto_thresholds`)."""
    similarities = np.asarray(similarities, dtype=float)
    nearest, best, second = best_two(similarities)
    if min_similarity is None:
        thresholds = auto_thresholds(similarities, seed)
    else:
        thresholds = [Threshold(float(min_similarity), "given")] * similarities.shape[1]
    values = np.array([t.value for t in thresholds])
    code = np.where(best >= values[nearest], nearest, -1)
    return CodeAssignment(code, nearest, best, second, thresholds)


def edge_flags(code: np.ndarray, similarity: np.ndarray, share: float = EDGE_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Per code, its ``share`` most similar members (exemplars) and least similar ones (borderline)."""
    exemplar = np.zeros(len(code), dtype=bool)
    borderline = np.zeros(len(code), dtype=bool)
    for c in np.unique(code[code >= 0]):
        members = np.flatnonzero(code == c)
        order = members[np.argsort(-similarity[members], kind="stable")]
        n_edge = max(1, int(np.ceil(share * len(members))))
        exemplar[order[:n_edge]] = True
        if len(members) > 1:
            borderline[order[-n_edge:]] = True
    return exemplar, borderline
