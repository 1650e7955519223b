"""Compile UMAP's and pynndescent's numba code once, on a small seeded corpus, before the first real run.

On a machine where nothing is compiled yet, a 10k-item run spends about two minutes compiling
(docs/scale.md: 45 s in the neighbour search, 69 s when the model is saved, whose search index
is prepared for ``transform``). :func:`warm_up` walks the paths a run takes (the reducer's
parallel neighbour search and fit, the saved model's index, ``transform`` for assigned items,
the map's layout of the graph) on random vectors, so their compiled code is in numba's disk
cache (semclust.core.compiled_cache) when the first study is clustered. ``semclust warm-up``
runs it; scripts/install.sh calls that once.
"""

from __future__ import annotations

import pickle
import time

import numpy as np

from semclust.stages.map2d import map_coordinates
from semclust.stages.reduce import create_reducer
from semclust.stages.reduce.parallel_umap import SMALL_DATA
from semclust.study.adaptive import auto_settings

#: Above the reducer's SMALL_DATA, so the parallel neighbour search is the one compiled.
WARM_UP_ITEMS = SMALL_DATA + 904
DIMENSIONS = 384  # all-MiniLM-L6-v2's; the compiled code does not depend on it
EPOCHS = 5  # the kernels are compiled by the first epoch; more only takes time


def warm_up() -> float:
    """Seconds spent running (and so compiling) every numba-compiled step of a clustering run."""
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(WARM_UP_ITEMS, DIMENSIONS)).astype(np.float32)
    X[: WARM_UP_ITEMS // 2] += 1.0
    reducer = create_reducer(auto_settings(WARM_UP_ITEMS).reducer, 0)
    reducer.n_epochs = EPOCHS
    reduced = np.asarray(reducer.fit_transform(X), dtype=np.float32)
    pickle.dumps(reducer)  # prepares the search index for transform, as saving the model does
    reducer.transform(X[:64])  # items assigned after a fit on a sample
    map_coordinates(reduced, "umap", 0, graph=reducer.graph_)
    return time.perf_counter() - start
