"""UMAP whose neighbour search uses every core, and whose epochs follow the corpus size; still seeded.

umap-learn runs on one thread whenever it is given a seed (it forces ``n_jobs=1``), so that a
seed always gives the same layout. At 100k items the single-threaded nearest-neighbour search
(pynndescent) is a third of the fit. pynndescent's parallel search with a fixed seed gives the
same graph on every run with the same number of threads (tests/test_parallel_umap.py), so this
estimator searches with all of numba's threads, hands the graph to UMAP as ``precomputed_knn``
(with the search index, so ``transform`` still places new items) and leaves UMAP's seeded,
single-threaded optimisation as it is. The graph is the run's one neighbour graph: the report's
map is laid out from the same ``graph_`` (semclust.stages.map2d). Its compiled code is kept on
disk (semclust.core.compiled_cache), so a machine compiles it once, not on every run.

Epochs: UMAP's own default is 500 up to 10,000 items and 200 above. Above 10,000 items this
estimator uses :data:`LARGE_N_EPOCHS`: the clusters found from 100 epochs agreed with those of
200 on every corpus measured (docs/scale.md, benchmarks/bench_umap_epochs.py), in half the
optimisation time. An explicit ``n_epochs`` always wins.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import umap
from pynndescent import NNDescent

from semclust.core.compiled_cache import cache_compiled_code

#: Below this many rows umap-learn computes exact distances itself (its ``_small_data`` path).
SMALL_DATA = 4096
#: UMAP's own default epochs stop at this size; above it, :data:`LARGE_N_EPOCHS`.
LARGE_N = 10_000
LARGE_N_EPOCHS = 100


def neighbour_search(X: np.ndarray, n_neighbors: int, metric: str, seed, low_memory: bool, n_jobs: int):
    """``(indices, distances, index)`` of the kNN graph, with umap-learn's own NN-descent settings."""
    n = X.shape[0]
    index = NNDescent(
        X, n_neighbors=n_neighbors, metric=metric, random_state=seed,
        n_trees=min(64, 5 + int(round(n ** 0.5 / 20.0))), n_iters=max(5, int(round(np.log2(n)))),
        max_candidates=60, low_memory=low_memory, n_jobs=n_jobs, compressed=False)
    indices, distances = index.neighbor_graph
    return indices, distances, index


class ParallelSearchUMAP(umap.UMAP):
    """``umap.UMAP`` with the parallel neighbour search and size-dependent epochs above."""

    def fit(self, X, y=None, *args, **kwargs):
        cache_compiled_code()
        searchable = (not scipy.sparse.issparse(X) and isinstance(self.metric, str)
                      and self.precomputed_knn[0] is None and X.shape[0] >= SMALL_DATA)
        n_jobs, epochs = self.n_jobs, self.n_epochs
        if epochs is None and X.shape[0] > LARGE_N:
            self.n_epochs = LARGE_N_EPOCHS
        if searchable:
            import numba

            threads = numba.get_num_threads() if n_jobs is None or n_jobs < 1 else n_jobs
            X = np.asarray(X, dtype=np.float32)
            self.precomputed_knn = neighbour_search(X, self.n_neighbors, self.metric, self.random_state,
                                                    self.low_memory, threads)
        try:
            return super().fit(X, y, *args, **kwargs)
        finally:  # the next fit (other data) searches again; umap's forced n_jobs=1 is undone
            if searchable:
                self.precomputed_knn = (None, None, None)
            self.n_jobs, self.n_epochs = n_jobs, epochs
