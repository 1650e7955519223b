"""Keep numba's compiled UMAP and pynndescent code on disk, so only a machine's first run compiles it.

umap-learn and pynndescent jit-compile their kernels in every new process, and many of them are
not marked ``cache=True``: at 10k items compiling is most of a run (the "kNN graph" step of
benchmarks/bench_scale.py is ~55 s on a 2-core machine, of which the search itself is ~2 s).
numba can cache any module-level jitted function (``Dispatcher.enable_caching``); it keys the
cache on the function's source file and types, recompiles when either changes, and writes to the
package's ``__pycache__`` or, where that is read-only, to ``NUMBA_CACHE_DIR`` / the user's cache.
Functions numba cannot cache (those built at run time) simply compile as before.
"""

from __future__ import annotations

import importlib
import warnings

MODULES = ("pynndescent.pynndescent_", "pynndescent.utils", "pynndescent.distances", "pynndescent.rp_trees",
           "pynndescent.graph_utils", "pynndescent.threaded_rp_trees", "umap.umap_", "umap.layouts",
           "umap.utils", "umap.distances", "umap.spectral")
_done: set[str] = set()


def cache_compiled_code(modules=MODULES) -> int:
    """Turn on numba's disk cache for every uncached jitted function of ``modules``; how many."""
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    enabled = 0
    for name in modules:
        if name in _done:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                try:
                    value.enable_caching()
                except RuntimeError:  # no writable cache location: it compiles in memory, as before
                    continue
                enabled += 1
        _done.add(name)
    # numba says so, once per function, where a function cannot be cached; that is expected here
    warnings.filterwarnings("ignore", message="Cannot cache compiled function")
    return enabled
