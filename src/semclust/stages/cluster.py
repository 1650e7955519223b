"""Clusterers by name: ``hdbscan:MIN_CLUSTER_SIZE[:MIN_SAMPLES]``, ``fast_hdbscan:...``, ``kmeans:K``,
``iterkmeans[:...]``.

Each factory returns a scikit-learn-style estimator with ``fit_predict`` whose
labels use -1 for outliers.
"""

from __future__ import annotations

import numpy as np

from semclust.core.errors import SemclustError, require
from semclust.core.registry import Registry, split_spec

clusterers = Registry("clusterer")


def _int_arg(args: str, spec: str, default: int) -> int:
    if not args:
        return default
    try:
        value = int(args)
    except ValueError as exc:
        raise SemclustError(f"{spec} needs an integer, got {args!r}") from exc
    if value < 2:
        raise SemclustError(f"{spec} needs a value >= 2, got {value}")
    return value


def hdbscan_args(args: str, name: str = "hdbscan") -> tuple[int, int | None]:
    """``"50"`` -> ``(50, None)``; ``"50:10"`` -> ``(50, 10)`` (min_cluster_size, min_samples)."""
    size, _, samples = args.partition(":")
    if ":" in samples:
        raise SemclustError(f"{name} takes at most MIN_CLUSTER_SIZE:MIN_SAMPLES, got '{name}:{args}'")
    min_cluster_size = _int_arg(size, f"{name}:MIN_CLUSTER_SIZE", 50)
    return min_cluster_size, (_int_arg(samples, f"{name}:MIN_CLUSTER_SIZE:MIN_SAMPLES", 50) if samples else None)


def make_hdbscan(args: str, random_state: int | None = None, **options):
    """``hdbscan:MIN_CLUSTER_SIZE[:MIN_SAMPLES]``; MIN_SAMPLES defaults to the cluster size, as in hdbscan.

    HDBSCAN is deterministic; ``random_state`` is accepted for a uniform interface.
    """
    min_cluster_size, min_samples = hdbscan_args(args)
    import hdbscan  # a core dependency, imported late because it is slow to import
    if min_samples is not None:
        options.setdefault("min_samples", min_samples)
    return hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, **options)


def fast_hdbscan_args(args: str) -> tuple[int, int | None]:
    """As ``hdbscan_args``, for ``fast_hdbscan:MIN_CLUSTER_SIZE[:MIN_SAMPLES]``."""
    return hdbscan_args(args, "fast_hdbscan")


def make_fast_hdbscan(args: str, random_state: int | None = None, **options):
    """``fast_hdbscan:MIN_CLUSTER_SIZE[:MIN_SAMPLES]``: the same clustering by the numba-parallel
    ``fast_hdbscan`` package. It cannot assign new items (no ``approximate_predict``), and its
    compilation costs about 20 s per process, so hdbscan stays the default (docs/scale.md)."""
    min_cluster_size, min_samples = fast_hdbscan_args(args)
    fast_hdbscan = require("fast_hdbscan", "fast", "the fast_hdbscan clusterer")
    if min_samples is not None:
        options.setdefault("min_samples", min_samples)
    options.setdefault("reproducible", True)  # the same labels on every run, as hdbscan gives
    return fast_hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, **options)


def kmeans_args(args: str) -> int:
    """``"12"`` -> 12 clusters (default 8)."""
    return _int_arg(args, "kmeans:K", 8)


def make_kmeans(args: str, random_state: int | None = None, **options):
    options.setdefault("n_init", 10)
    from sklearn.cluster import KMeans  # late: checking a spec must not wait for scikit-learn

    return KMeans(n_clusters=kmeans_args(args), random_state=random_state, **options)


clusterers.register("hdbscan", make_hdbscan, check=hdbscan_args)
clusterers.register("fast_hdbscan", make_fast_hdbscan, check=fast_hdbscan_args)
clusterers.register("kmeans", make_kmeans, check=kmeans_args)
# building an IterativeKMeans only stores and checks its parameters, so the factory is its own check
clusterers.register("iterkmeans", "semclust.stages.cluster_iterkmeans:from_spec",
                    check="semclust.stages.cluster_iterkmeans:from_spec")


def create_clusterer(spec: str, random_state: int | None = None, device: str = "cpu", **options):
    """The clusterer ``spec`` names; ``device`` auto/cuda puts hdbscan/kmeans on the GPU (semclust.core.gpu)."""
    estimator = clusterers.create(spec, random_state=random_state, **options)
    if device == "cpu":
        return estimator
    from semclust.core.gpu import on_device

    return on_device(estimator, split_spec(spec)[0], device, random_state)


def membership_strength(estimator, n: int) -> np.ndarray:
    """HDBSCAN's ``probabilities_`` where the clusterer has them, else 1.0 for every item."""
    values = getattr(estimator, "probabilities_", None)
    if values is None or len(values) != n:
        return np.ones(n, dtype=float)
    return np.asarray(values, dtype=float)
