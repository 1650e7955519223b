"""S_Dbw validity index (Halkidi & Vazirgiannis 2001), vectorised for 100k+ points.

Zhang & Leung (appendix A.2) score a partition with ``S_Dbw = Scat + Dens_bw``: ``Scat`` is
the mean dispersion of the clusters relative to that of the whole data set, and ``Dens_bw``
compares, for every pair of clusters, how many points lie near the midpoint of their two
centres with how many lie near the centres themselves. Lower is better.

Two readings of the definition are offered, because the paper's formula and the only
Python implementation (the ``s-dbw`` package) differ:

``variant="halkidi"`` (default)
    Appendix A.2 to the letter: dispersion is the vector of per-feature *variances*, and
    every density in the ratio for clusters ``i, j`` (at ``u_ij``, ``v_i`` and ``v_j``)
    counts the points of ``c_i`` and ``c_j`` together ("n_ij represents the number of
    tuples that are contained in the union set of cluster c_i and c_j"). Invariant to
    rescaling ``X``, which the paper's fixed marginal-gain threshold (0.01) needs: it is
    the default of ``choose-k``, ``evaluate --internal`` and the grid.
``variant="s-dbw"``
    What ``s_dbw.S_Dbw(X, labels, method="Halkidi", alg_noise="filter", centr="mean",
    nearest_centr=(center == "nearest"), metric="euclidean")`` returns (up to rounding): the
    dispersion of a cluster is its vector of per-feature *standard deviations*, and the
    density at a cluster's centre counts the points of that cluster only. Because the
    neighbourhood radius is then the square root of a sum of standard deviations, this
    value changes when ``X`` is rescaled; compare it only between partitions of one ``X``,
    and do not apply an absolute threshold such as 0.01 to its changes.

Centres: the paper uses cluster means (``center="mean"``). Beyond two or three
dimensions hardly any point lies within the radius of a mean, so the density ratio is
0/0 for some pair and the index is undefined (the package raises too).
``center="nearest"`` (default, as in the ``s-dbw`` package) uses the member closest to
the mean instead, so that every centre has density at least 1. Outliers (label -1) are left out, as the paper scores clusters only.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.spatial.distance import cdist

from semclust.core.errors import SemclustError

logger = logging.getLogger(__name__)

OUTLIER = -1
Variant = Literal["halkidi", "s-dbw"]
Center = Literal["nearest", "mean"]

_VARIANTS = ("halkidi", "s-dbw")
#: Appendix A.2's reading: variances and union densities (scale-invariant).
PAPER_VARIANT = "halkidi"
_CENTERS = ("nearest", "mean")
# Distance-matrix entries computed at once: bounds memory to a few arrays of 16 MiB.
_BLOCK_ENTRIES = 1 << 21
# Relative width of the band around the radius where the fast squared-distance formula
# is not trusted and the distance is recomputed directly (as the reference does).
_BOUNDARY_RTOL = 1e-9


class UndefinedIndexError(SemclustError):
    """The index has no value for this partition (a 0/0 density ratio, or no dispersion)."""


def check_labels(labels: ArrayLike, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D int64 array, or raise naming the first non-integer entry."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise SemclustError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    values = pd.to_numeric(arr, errors="coerce").astype(np.float64)  # unparsable -> NaN
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = arr[row].item() if isinstance(arr[row], np.generic) else arr[row]
        raise SemclustError(
            f"{name} must be whole numbers (cluster ids, -1 for outliers); "
            f"row {row} holds {value!r}"
        )
    return values.astype(np.int64)


def check_points(X: ArrayLike) -> np.ndarray:
    """Return ``X`` as a finite 2-D float64 array, or raise naming the first bad row."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SemclustError(f"X must be a numeric matrix (items x features): {exc}") from exc
    if X.ndim != 2:
        raise SemclustError(f"X must be 2-D (items x features), got shape {X.shape}")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SemclustError(
            f"X has NaN or infinite values in row {rows[0]}"
            + (f" and {len(rows) - 1} other rows" if len(rows) > 1 else "")
        )
    return X


def check_points_labels(X: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``X`` (see :func:`check_points`) and int64 ``labels`` of the same length."""
    X, labels = check_points(X), check_labels(labels)
    if len(labels) != len(X):
        raise SemclustError(f"X has {len(X)} rows but labels has {len(labels)} entries")
    return X, labels


def s_dbw(
    X: ArrayLike,
    labels: ArrayLike,
    *,
    variant: Variant = PAPER_VARIANT,
    center: Center = "nearest",
) -> float:
    """S_Dbw of a partition: lower means compact clusters with sparse space between them.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
        The points that were clustered (e.g. reduced embeddings).
    labels : array-like of shape (n_items,)
        Cluster id per item; -1 marks outliers, which are left out.
    variant : {"halkidi", "s-dbw"}
        Which reading of the definition (see the module docstring); "halkidi" is the
        paper's.
    center : {"nearest", "mean"}
        Cluster centre: the member nearest the mean, or the mean itself (the paper's).

    Returns
    -------
    float

    Raises
    ------
    SemclustError
        Bad input, or fewer than 2 clusters besides outliers.
    UndefinedIndexError
        No point lies near either centre of some pair of clusters (0/0), or all points
        coincide.
    """
    if variant not in _VARIANTS:
        raise SemclustError(f"variant must be one of {_VARIANTS}, got {variant!r}")
    if center not in _CENTERS:
        raise SemclustError(f"center must be one of {_CENTERS}, got {center!r}")
    X, labels = check_points_labels(X, labels)
    keep = labels != OUTLIER
    X, labels = X[keep], labels[keep]
    ids, members = _split_by_cluster(X, labels)
    if len(ids) < 2:
        raise SemclustError(
            f"S_Dbw needs at least 2 clusters besides outliers (-1); found {len(ids)}"
        )
    spread = np.array([_dispersion(m, variant) for m in members])
    spread_norms = np.linalg.norm(spread, axis=1)
    total_norm = float(np.linalg.norm(_dispersion(X, variant)))
    if total_norm == 0.0:
        raise UndefinedIndexError("S_Dbw is undefined: all non-outlier points coincide")
    scat = spread_norms.sum() / (len(ids) * total_norm)
    radius = math.sqrt(spread_norms.sum()) / len(ids)
    centres = np.array([_centre(m, center) for m in members])
    dens = _dens_bw(members, centres, radius, variant, ids)
    logger.debug("S_Dbw: %d clusters, scat=%.6g, dens_bw=%.6g", len(ids), scat, dens)
    return float(scat + dens)


def _split_by_cluster(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Members of each cluster in their original row order (so sums match the reference)."""
    order = np.argsort(labels, kind="stable")
    ids, starts = np.unique(labels[order], return_index=True)
    return ids, np.split(X[order], starts[1:])


def _dispersion(points: np.ndarray, variant: Variant) -> np.ndarray:
    """Per-feature spread: standard deviations ("s-dbw") or variances ("halkidi")."""
    return points.std(axis=0) if variant == "s-dbw" else points.var(axis=0)


def _centre(points: np.ndarray, center: Center) -> np.ndarray:
    """Cluster mean, or the first member at the smallest distance from it."""
    mean = points.mean(axis=0)
    if center == "mean":
        return mean
    return points[np.argmin(cdist(points, mean[None, :]))]


def _dens_bw(
    members: list[np.ndarray],
    centres: np.ndarray,
    radius: float,
    variant: Variant,
    ids: np.ndarray,
) -> float:
    """Mean over ordered pairs of density(midpoint) / max(density(centre i), density(centre j))."""
    k = len(centres)
    near_centre = np.empty((k, k), dtype=np.int64)  # [cluster of the points, centre]
    near_mid = np.empty((k, k), dtype=np.int64)  # [cluster of the points, midpoint with j]
    for i, points in enumerate(members):
        queries = np.vstack([centres, (centres + centres[i]) / 2])
        counts = count_within(points, queries, radius)
        near_centre[i], near_mid[i] = counts[:k], counts[k:]
    between = near_mid + near_mid.T
    own = np.diag(near_centre)
    if variant == "s-dbw":
        at_centre = np.maximum.outer(own, own)
    else:  # density of v_i counted over c_i and c_j
        pair_density = own[:, None] + near_centre.T
        at_centre = np.maximum(pair_density, pair_density.T)
    off_diagonal = ~np.eye(k, dtype=bool)
    empty = (at_centre == 0) & off_diagonal
    if empty.any():
        i, j = np.argwhere(empty)[0]
        raise UndefinedIndexError(
            f"S_Dbw is undefined: no point lies within the radius {radius:.4g} of the centres "
            f"of clusters {ids[i]} and {ids[j]} (0/0); use center='nearest'"
        )
    ratios = between[off_diagonal] / at_centre[off_diagonal]
    return float(ratios.sum() / (k * (k - 1)))


def count_within(points: np.ndarray, queries: np.ndarray, radius: float) -> np.ndarray:
    """Number of ``points`` within Euclidean ``radius`` (inclusive) of each query point.

    Uses ``|x|^2 + |q|^2 - 2 x.q`` on blocks of rows (one BLAS product per block); entries
    too close to the radius for that formula's rounding are recomputed as ``|x - q|``.
    """
    shift = points.mean(axis=0) if len(points) else 0.0
    p, q = points - shift, queries - shift
    p_sq, q_sq = np.einsum("ij,ij->i", p, p), np.einsum("ij,ij->i", q, q)
    r_sq = radius * radius
    counts = np.zeros(len(queries), dtype=np.int64)
    block = max(1, _BLOCK_ENTRIES // max(1, len(queries)))
    for start in range(0, len(points), block):
        stop = start + block
        d_sq = p[start:stop] @ q.T
        d_sq *= -2.0
        d_sq += p_sq[start:stop, None]
        d_sq += q_sq[None, :]
        tol = _BOUNDARY_RTOL * (p_sq[start:stop].max() + q_sq.max() + r_sq)
        counts += (d_sq < r_sq - tol).sum(axis=0)
        rows, cols = np.nonzero(np.abs(d_sq - r_sq) <= tol)
        if len(rows):
            exact = np.linalg.norm(points[start + rows] - queries[cols], axis=1) <= radius
            np.add.at(counts, cols[exact], 1)
    return counts
