"""Reducers by name: ``umap:N_COMPONENTS:N_NEIGHBORS``, ``pca:N``, ``pca:0.8``, ``none``.

Each factory returns a scikit-learn-style estimator with ``fit_transform``; any such
object can be passed through the Python API instead of a name.
"""

from __future__ import annotations

import warnings

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA

from semclust.core.errors import SemclustError
from semclust.core.registry import Registry, split_spec

reducers = Registry("reducer")


class Identity(BaseEstimator, TransformerMixin):
    """``none``: cluster the embeddings as they are."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def _numbers(args: str, spec: str, count: int) -> list[str]:
    parts = [p for p in args.split(":") if p] if args else []
    if len(parts) > count:
        raise SemclustError(f"{spec}: too many parameters")
    return parts


def make_umap(args: str, random_state: int | None = None, **options):
    parts = _numbers(args, "umap:N_COMPONENTS:N_NEIGHBORS", 2)
    try:
        n_components = int(parts[0]) if parts else 10
        n_neighbors = int(parts[1]) if len(parts) > 1 else 15
    except ValueError as exc:
        raise SemclustError(f"umap needs integers, got 'umap:{args}'") from exc
    import umap  # a core dependency, imported late because it is slow to import (numba)

    # umap-learn warns on every seeded run that it will use one thread; that is the price of determinism
    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
    options.setdefault("metric", "cosine")
    return umap.UMAP(n_components=n_components, n_neighbors=n_neighbors, random_state=random_state,
                     **options)


def make_pca(args: str, random_state: int | None = None, **options):
    parts = _numbers(args, "pca:N", 1)
    raw = parts[0] if parts else "10"
    try:
        value = float(raw)
    except ValueError as exc:
        raise SemclustError(f"pca needs a number of components or a variance share, got 'pca:{args}'") from exc
    n_components: int | float = value if 0 < value < 1 else int(value)
    if n_components <= 0:
        raise SemclustError(f"pca needs a positive value, got 'pca:{args}'")
    svd_solver = "full" if isinstance(n_components, float) else "auto"
    return PCA(n_components=n_components, random_state=random_state, svd_solver=svd_solver, **options)


def make_none(args: str, random_state: int | None = None, **options):
    return Identity()


reducers.register("umap", make_umap)
reducers.register("pca", make_pca)
reducers.register("none", make_none)


def create_reducer(spec: str, random_state: int | None = None, device: str = "cpu", **options):
    """The reducer ``spec`` names; ``device`` auto/cuda puts ``umap:`` on the GPU (semclust.core.gpu)."""
    estimator = reducers.create(spec, random_state=random_state, **options)
    if device == "cpu":
        return estimator
    from semclust.core.gpu import on_device

    return on_device(estimator, split_spec(spec)[0], device, random_state)
