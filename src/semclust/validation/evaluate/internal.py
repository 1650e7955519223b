"""Internal validity indices of one clustering: no human codes needed, only the points.

Silhouette, Davies-Bouldin and Calinski-Harabasz come from scikit-learn; S_Dbw from
:mod:`semclust.validation.evaluate.sdbw`. All are computed on the clustered points only: outliers
(label -1) are not a cluster, and counting them as one would reward or punish a run for
its noise. An index that cannot be computed (fewer than 2 clusters, a silhouette sample
that hits a single cluster, an undefined S_Dbw) is ``None`` with the reason beside it, so
that a grid of runs can be tabulated without one bad run stopping the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.utils import check_random_state

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.sdbw import (
    OUTLIER,
    UndefinedIndexError,
    check_points_labels,
    s_dbw,
)

logger = logging.getLogger(__name__)

INDEX_NAMES = ("silhouette", "davies_bouldin", "calinski_harabasz", "s_dbw")


def internal_indices(
    X: ArrayLike,
    labels: ArrayLike,
    *,
    sample_size: int | None = 10_000,
    random_state: int | np.random.RandomState | None = 0,
    s_dbw_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Silhouette, Davies-Bouldin, Calinski-Harabasz and S_Dbw of one clustering.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
        The points that were clustered.
    labels : array-like of shape (n_items,)
        Cluster id per item, -1 for outliers (left out of every index).
    sample_size : int or None
        The silhouette is quadratic in n, so above this many clustered points it is
        computed on a random sample of this size (the same sample scikit-learn's
        ``silhouette_score(sample_size=..., random_state=...)`` draws). None: all points.
    random_state : int, RandomState or None
        Seed of the silhouette sample.
    s_dbw_kwargs : mapping, optional
        Keyword arguments for :func:`semclust.validation.evaluate.sdbw.s_dbw` (``variant``, ``center``).

    Returns
    -------
    dict
        ``n_points`` (clustered points used), ``n_outliers``, ``n_clusters``,
        ``silhouette_sample_size``, one float or None per index in :data:`INDEX_NAMES`
        (higher is better for silhouette and Calinski-Harabasz, lower for the others),
        and ``reasons``: index name -> why it is None.
    """
    if sample_size is not None and sample_size < 2:
        raise SemclustError(f"sample_size must be at least 2 or None, got {sample_size}")
    X, labels = check_points_labels(X, labels)
    clustered = labels != OUTLIER
    X, labels = X[clustered], labels[clustered]
    n_clusters = len(np.unique(labels))
    result: dict[str, Any] = {
        "n_points": len(labels),
        "n_outliers": int((~clustered).sum()),
        "n_clusters": n_clusters,
        "silhouette_sample_size": None,
        **dict.fromkeys(INDEX_NAMES),
        "reasons": {},
    }
    reason = _unscorable(len(labels), n_clusters)
    if reason:
        result["reasons"] = dict.fromkeys(INDEX_NAMES, reason)
        logger.info("internal indices not computed: %s", reason)
        return result
    _add(result, "silhouette", lambda: _sampled_silhouette(X, labels, sample_size, random_state))
    result["silhouette_sample_size"] = min(len(labels), sample_size or len(labels))
    result["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    result["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    _add(result, "s_dbw", lambda: s_dbw(X, labels, **(s_dbw_kwargs or {})))
    return result


def _unscorable(n_points: int, n_clusters: int) -> str | None:
    """Why no index is defined (scikit-learn needs 2 <= clusters <= points - 1), or None."""
    if n_clusters < 2:
        return f"fewer than 2 clusters besides outliers (found {n_clusters})"
    if n_clusters > n_points - 1:
        return f"every one of the {n_points} clustered points is its own cluster"
    return None


def _add(result: dict[str, Any], name: str, compute: Callable[[], float]) -> None:
    """Store ``compute()`` under ``name``, or None and the reason it is undefined."""
    try:
        result[name] = compute()
    except UndefinedIndexError as exc:
        result["reasons"][name] = str(exc)
        logger.info("%s not computed: %s", name, exc)


def _sampled_silhouette(
    X: np.ndarray,
    labels: np.ndarray,
    sample_size: int | None,
    random_state: int | np.random.RandomState | None,
) -> float:
    """Silhouette on scikit-learn's own sample of ``sample_size`` rows (all rows if fewer)."""
    if sample_size is not None and sample_size < len(labels):
        rows = check_random_state(random_state).permutation(len(labels))[:sample_size]
        X, labels = X[rows], labels[rows]
        found = len(np.unique(labels))
        if not 2 <= found <= len(labels) - 1:
            raise UndefinedIndexError(
                f"the silhouette sample of {sample_size} points holds {found} clusters; "
                "raise sample_size"
            )
    return float(silhouette_score(X, labels))
