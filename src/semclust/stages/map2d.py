"""The report's 2-D map, drawn from the space the run clustered in.

The map used to run a second UMAP on the raw embeddings, as expensive as the reduction itself.
It now starts from the run's reduced matrix (10 dimensions instead of 384: the neighbour search,
the costly part, is far cheaper), returns it unchanged when it already has two dimensions, and
above :data:`MAP_FIT_MAX` items fits the 2-D UMAP on a seeded sample and places every other
item with ``UMAP.transform``, in chunks with a progress bar: linear in n, not a full fit.

When the run was reduced with UMAP, the map needs no neighbour search at all: the reducer's own
fuzzy neighbour graph (``graph_``, built from the one kNN graph of the run) is laid out again in
two dimensions (:func:`map_from_graph`), starting from the PCA of the reduced matrix, for
:func:`map_epochs` epochs. Items the graph does not cover (assigned after a fit on a
sample) sit at the mean map position of their :data:`PLACE_NEIGHBOURS` nearest fitted items in
the reduced space, found by a KD-tree in blocks of :data:`TRANSFORM_CHUNK`.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from semclust.core.compiled_cache import cache_compiled_code
from semclust.core.errors import SemclustError
from semclust.core.progress import track

log = logging.getLogger(__name__)

MAP_FIT_MAX = 20_000
TRANSFORM_CHUNK = 50_000
#: Epochs of the 2-D layout of the reducer's graph: from a PCA start, 100 already keep over 99.9%
#: of each item's 10 map neighbours in its own cluster at 10k and 100k (benchmarks/bench_scale.py).
GRAPH_MAP_EPOCHS = 100
#: Above this many items in the graph, :data:`LARGE_GRAPH_MAP_EPOCHS`: at 100k, 50 epochs kept
#: 99.98% own-cluster neighbours (100: 99.99%) and trustworthiness 0.978 (0.979) in half the time;
#: on 18,821 newsgroup posts 50 lost 0.008 and 0.006 (docs/scale.md), so smaller maps keep 100.
LARGE_GRAPH = 50_000
LARGE_GRAPH_MAP_EPOCHS = 50
PLACE_NEIGHBOURS = 5


def map_coordinates(reduced: np.ndarray, how: str, seed: int, progress: bool = False, graph=None,
                    fitted: np.ndarray | None = None) -> np.ndarray | None:
    """2-D positions (float32, one row per item) for ``how`` = umap, pca or none.

    ``graph`` is the reducer's fuzzy neighbour graph over the ``fitted`` rows (all rows when
    ``fitted`` is None); given it, the umap map is laid out from it (:func:`map_from_graph`).
    """
    if how == "none" or len(reduced) < 4:
        return None
    reduced = np.asarray(reduced, dtype=np.float32)
    if how == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(reduced).astype(np.float32)
    if how != "umap":
        raise SemclustError(f"map must be umap, pca or none, got {how!r}")
    if reduced.shape[1] == 2:
        return reduced.copy()
    cache_compiled_code()
    if graph is not None:
        return map_from_graph(reduced, graph, seed, fitted, progress)
    import umap

    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
    model = umap.UMAP(n_components=2, n_neighbors=min(15, len(reduced) - 1), random_state=seed)
    if len(reduced) <= MAP_FIT_MAX:
        return model.fit_transform(reduced).astype(np.float32)
    rng = np.random.default_rng(seed)
    fitted = np.sort(rng.choice(len(reduced), MAP_FIT_MAX, replace=False))
    coords = np.empty((len(reduced), 2), dtype=np.float32)
    log.info("map: 2-D UMAP fitted on %d of %d items, the rest placed by transform", MAP_FIT_MAX, len(reduced))
    coords[fitted] = model.fit_transform(reduced[fitted])
    rest = np.setdiff1d(np.arange(len(reduced)), fitted)
    chunks = [rest[i:i + TRANSFORM_CHUNK] for i in range(0, len(rest), TRANSFORM_CHUNK)]
    for chunk in track(chunks, len(chunks), "Placing items on the map", progress):
        coords[chunk] = model.transform(reduced[chunk])
    return coords


def map_epochs(n_in_graph: int) -> int:
    """Epochs of the graph's 2-D layout: fewer for large graphs, as UMAP's own default does."""
    return LARGE_GRAPH_MAP_EPOCHS if n_in_graph > LARGE_GRAPH else GRAPH_MAP_EPOCHS


def map_from_graph(reduced: np.ndarray, graph, seed: int, fitted: np.ndarray | None = None,
                   progress: bool = False) -> np.ndarray:
    """The reducer's neighbour graph laid out in 2-D; items outside it placed among their neighbours."""
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    fitted = np.ones(len(reduced), dtype=bool) if fitted is None else np.asarray(fitted, dtype=bool)
    if graph.shape[0] != fitted.sum():
        raise SemclustError(f"the neighbour graph has {graph.shape[0]} rows, the fit {fitted.sum()}")
    inside = reduced[fitted] if not fitted.all() else reduced
    a, b = find_ab_params(1.0, 0.1)  # UMAP's default spread and min_dist
    # umap prunes the graph it is given in place: a copy keeps the reducer's (saved in the model)
    layout, _ = simplicial_set_embedding(
        inside, graph.copy(), 2, 1.0, a, b, 1.0, 5, map_epochs(graph.shape[0]), "pca", np.random.RandomState(seed),
        "euclidean", {}, False, {}, False)
    coords = np.empty((len(reduced), 2), dtype=np.float32)
    coords[fitted] = layout
    rest = np.flatnonzero(~fitted)
    if len(rest):
        from sklearn.neighbors import KDTree

        tree = KDTree(inside)
        chunks = [rest[i:i + TRANSFORM_CHUNK] for i in range(0, len(rest), TRANSFORM_CHUNK)]
        for chunk in track(chunks, len(chunks), "Placing items on the map", progress):
            near = tree.query(reduced[chunk], k=min(PLACE_NEIGHBOURS, len(inside)), return_distance=False)
            coords[chunk] = layout[near].mean(axis=1)
    return coords
