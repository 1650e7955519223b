"""Choosing the number of clusters K by the marginal gain of S_Dbw (Zhang & Leung, 3.4.2).

Start with few clusters and add more while each added cluster still buys a real drop in
S_Dbw. Between consecutive grid values K < K' the marginal gain is

    gain(K) = |S_Dbw(K') - S_Dbw(K)| / (K' - K)

(the absolute value keeps small ups and downs from favouring large K), and the rule stops
increasing K at the first K whose gain falls below a threshold (0.01 in the paper, where
it picked K = 25 on the grid 9, 16, ..., 100). The grid need not be evenly spaced.

The paper writes the gain "from K' to K" and plots it against K without saying which of
the two; "we stop increasing K when this marginal gain drops below a threshold ... meaning
that further increasing the number of clusters no longer improves grouping quality" says
the gain at K is that of moving on from K. So ``gain`` at K looks forward to the next K
of the grid (NaN on the last row), and the K chosen is the last one that still paid off.
Read backwards (the gain of arriving at K) the rule picks one grid step later: on blobs
with 4 true clusters and the grid 2, 3, ..., 12 it picks 5, where this reading picks 4.

The threshold is absolute, so it needs S_Dbw in appendix A.2's scale-invariant reading
(the default, ``variant="halkidi"``); with ``variant="s-dbw"`` rescaling the data moves
the chosen K.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.cluster import KMeans

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.sdbw import OUTLIER, check_labels, check_points, s_dbw

logger = logging.getLogger(__name__)

FitPredict = Callable[[np.ndarray, int], ArrayLike]
"""Clusters ``X`` into ``k`` groups and returns one label per row (-1 for outliers)."""


@dataclass(frozen=True)
class KChoice:
    """S_Dbw over a grid of K and the K the marginal-gain rule picks.

    Attributes
    ----------
    table : DataFrame
        Columns ``k``, ``s_dbw`` and ``gain`` (of moving on to the next K; NaN on the last
        row), sorted by ``k``.
    k : int or None
        The first K from which the gain is below ``threshold``; None if none is (widen
        the grid).
    threshold : float
    """

    table: pd.DataFrame
    k: int | None
    threshold: float


def kmeans_fit_predict(X: np.ndarray, k: int, *, random_state: int = 0) -> np.ndarray:
    """The default clusterer: scikit-learn KMeans with a fixed seed."""
    return KMeans(n_clusters=k, random_state=random_state).fit_predict(X)


def marginal_gain(scores: Mapping[int, float] | pd.Series) -> pd.DataFrame:
    """Table of ``k``, ``s_dbw`` and ``gain = |dS_Dbw / dK|`` to the next K, one row per K."""
    series = pd.Series(scores, dtype=float).sort_index()
    if series.empty:
        raise SemclustError("marginal gain needs S_Dbw for at least one K; got none")
    bad = ~np.isfinite(series.to_numpy())
    if bad.any():
        raise SemclustError(f"S_Dbw at K={series.index[bad][0]} is {series[bad].iloc[0]}")
    ks = series.index.to_numpy()
    values = series.to_numpy()
    gain = np.abs(np.diff(values)) / np.diff(ks)
    return pd.DataFrame({"k": ks, "s_dbw": values, "gain": np.r_[gain, np.nan]})


def pick_k(table: pd.DataFrame, threshold: float = 0.01) -> int | None:
    """First K in ``table`` (from :func:`marginal_gain`) whose gain onwards is below ``threshold``."""
    _check_threshold(threshold)
    below = table.loc[table["gain"] < threshold, "k"]
    return int(below.iloc[0]) if len(below) else None


def _check_threshold(threshold: float) -> None:
    """Gains are non-negative, so a threshold of 0 or less could never stop the search."""
    if not threshold > 0:
        raise SemclustError(f"threshold must be positive, got {threshold}")


def check_k_grid(k_grid: Iterable[int], n_points: int) -> list[int]:
    """Sorted grid of whole K in [2, n_points - 1], or raise naming the bad value."""
    ks = list(k_grid)
    if not ks:
        raise SemclustError("the K grid is empty; give at least one K, e.g. 5,10,15,20")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise SemclustError(f"K values must be whole numbers; got {k!r}")
        if not 2 <= k <= n_points - 1:
            raise SemclustError(f"K={k} is outside 2..{n_points - 1} (there are {n_points} points)")
    duplicated = {k for k in ks if ks.count(k) > 1}
    if duplicated:
        raise SemclustError(f"K grid repeats {sorted(duplicated)}")
    return sorted(int(k) for k in ks)


def s_dbw_by_k(
    X: ArrayLike,
    k_grid: Iterable[int],
    *,
    fit_predict: FitPredict | None = None,
    random_state: int = 0,
    s_dbw_kwargs: Mapping[str, Any] | None = None,
) -> pd.Series:
    """S_Dbw of the clustering of ``X`` at each K of the grid, indexed by K.

    ``fit_predict(X, k)`` defaults to seeded KMeans (``random_state`` is used by it only).
    """
    X = check_points(X)
    ks = check_k_grid(k_grid, len(X))
    if fit_predict is None:
        fit_predict = partial(kmeans_fit_predict, random_state=random_state)
    scores = {}
    for k in ks:
        labels = check_labels(fit_predict(X, k), name=f"labels at K={k}")
        found = len(np.unique(labels[labels != OUTLIER]))
        if found != k:
            logger.warning("clustering at K=%d returned %d clusters", k, found)
        try:
            scores[k] = s_dbw(X, labels, **(s_dbw_kwargs or {}))
        except SemclustError as exc:
            raise type(exc)(f"at K={k}: {exc}") from exc
        logger.info("K=%d: S_Dbw=%.4f", k, scores[k])
    return pd.Series(scores, name="s_dbw", dtype=float)


def choose_k(
    X: ArrayLike,
    k_grid: Iterable[int],
    *,
    fit_predict: FitPredict | None = None,
    threshold: float = 0.01,
    random_state: int = 0,
    s_dbw_kwargs: Mapping[str, Any] | None = None,
) -> KChoice:
    """Cluster ``X`` at every K of the grid and apply the marginal-gain rule to S_Dbw.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
    k_grid : iterable of int
        Candidate K, any spacing (e.g. 9, 16, 25, ...).
    fit_predict : callable ``(X, k) -> labels``, optional
        The clusterer; default seeded scikit-learn KMeans.
    threshold : float
        Stop at the first K from which the marginal gain is below this (paper: 0.01).
    random_state : int
        Seed of the default KMeans.
    s_dbw_kwargs : mapping, optional
        Passed to :func:`semclust.validation.evaluate.sdbw.s_dbw`.
    """
    _check_threshold(threshold)  # before the slow part
    table = marginal_gain(
        s_dbw_by_k(
            X,
            k_grid,
            fit_predict=fit_predict,
            random_state=random_state,
            s_dbw_kwargs=s_dbw_kwargs,
        )
    )
    k = pick_k(table, threshold)
    if k is None:
        logger.warning("marginal gain never fell below %g on K=%s", threshold, list(table["k"]))
    return KChoice(table=table, k=k, threshold=threshold)
