"""Reducers by name: ``umap:N_COMPONENTS:N_NEIGHBORS``, ``pca:N``, ``pca:0.8``, ``none``.

Each factory returns a scikit-learn-style estimator with ``fit_transform``; any such
object can be passed through the Python API instead of a name.
"""

from __future__ import annotations

import warnings

from semclust.core.errors import SemclustError
from semclust.core.registry import Registry, split_spec

# scikit-learn and umap are imported by the factories, not here: checking a spec before a run
# (semclust.study.spec_check) imports this module and must take well under a second
reducers = Registry("reducer")


def __getattr__(name: str):
    """Models saved before the identity reducer moved still unpickle ``semclust.stages.reduce.Identity``."""
    if name == "Identity":
        from semclust.stages.reduce.identity import Identity

        return Identity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _numbers(args: str, spec: str, count: int) -> list[str]:
    parts = [p for p in args.split(":") if p] if args else []
    if len(parts) > count:
        raise SemclustError(f"{spec}: too many parameters")
    return parts


def umap_args(args: str) -> tuple[int, int]:
    """``"10:15"`` -> ``(n_components, n_neighbors)``; both default (10, 15)."""
    parts = _numbers(args, "umap:N_COMPONENTS:N_NEIGHBORS", 2)
    try:
        n_components = int(parts[0]) if parts else 10
        n_neighbors = int(parts[1]) if len(parts) > 1 else 15
    except ValueError as exc:
        raise SemclustError(f"umap needs integers (umap:N_COMPONENTS:N_NEIGHBORS), got 'umap:{args}'") from exc
    if n_components < 1 or n_neighbors < 2:
        raise SemclustError(f"umap needs N_COMPONENTS >= 1 and N_NEIGHBORS >= 2, got 'umap:{args}'")
    return n_components, n_neighbors


def make_umap(args: str, random_state: int | None = None, **options):
    n_components, n_neighbors = umap_args(args)
    # umap is a core dependency, imported late because it is slow to import (numba)
    from semclust.stages.reduce.parallel_umap import ParallelSearchUMAP

    # umap-learn warns on every seeded run that its optimisation uses one thread (the search does not: parallel_umap)
    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
    options.setdefault("metric", "cosine")
    return ParallelSearchUMAP(n_components=n_components, n_neighbors=n_neighbors, random_state=random_state,
                              **options)


def pca_args(args: str) -> int | float:
    """``"5"`` -> 5 components; ``"0.8"`` -> the share of variance to keep."""
    parts = _numbers(args, "pca:N", 1)
    raw = parts[0] if parts else "10"
    try:
        value = float(raw)
    except ValueError as exc:
        raise SemclustError(f"pca needs a number of components or a variance share, got 'pca:{args}'") from exc
    n_components: int | float = value if 0 < value < 1 else int(value)
    if n_components <= 0:
        raise SemclustError(f"pca needs a positive value, got 'pca:{args}'")
    return n_components


def make_pca(args: str, random_state: int | None = None, **options):
    n_components = pca_args(args)
    from sklearn.decomposition import PCA

    svd_solver = "full" if isinstance(n_components, float) else "auto"
    return PCA(n_components=n_components, random_state=random_state, svd_solver=svd_solver, **options)


def make_none(args: str, random_state: int | None = None, **options):
    from semclust.stages.reduce.identity import Identity

    return Identity()


reducers.register("umap", make_umap, check=umap_args)
reducers.register("pca", make_pca, check=pca_args)
reducers.register("none", make_none)


def create_reducer(spec: str, random_state: int | None = None, device: str = "cpu", **options):
    """The reducer ``spec`` names; ``device`` auto/cuda puts ``umap:`` on the GPU (semclust.core.gpu)."""
    estimator = reducers.create(spec, random_state=random_state, **options)
    if device == "cpu":
        return estimator
    from semclust.core.gpu import on_device

    return on_device(estimator, split_spec(spec)[0], device, random_state)
