"""numba's compiled UMAP/pynndescent code: ``semclust warm-up`` writes it to disk, runs read it.

Each step is a fresh interpreter (the cache only matters across processes); NUMBA_CACHE_DIR points
numba at a temporary folder so the test neither needs nor touches the installed packages' folders.
"""

import json
import os
import subprocess
import sys

import numpy as np

# what a clustering run does with numba-compiled code, on other data than the warm-up's
RUN = r"""
import json, pickle, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from semclust.core.compiled_cache import MODULES
from semclust.stages.map2d import map_coordinates
from semclust.stages.reduce.parallel_umap import ParallelSearchUMAP

rng = np.random.default_rng(1)
X = rng.normal(size=(4200, 8)).astype(np.float32)
X[:2100] += 3
reducer = ParallelSearchUMAP(n_components=10, n_neighbors=15, metric="cosine", n_epochs=20, random_state=0)
Y = reducer.fit_transform(X).astype(np.float32)
pickle.dumps(reducer)
reducer.transform(X[:30])
coords = map_coordinates(Y, "umap", 0, graph=reducer.graph_)
missed, hits = [], 0
for name in MODULES:
    for attr, value in vars(sys.modules[name]).items():
        if isinstance(value, Dispatcher):
            hits += sum(value.stats.cache_hits.values())
            if sum(value.stats.cache_misses.values()):
                missed.append(f"{name}.{attr}")
print(json.dumps({"layout": Y[:40].tolist(), "map": coords[:40].tolist(), "hits": hits, "missed": sorted(missed)}))
"""


def _run(args, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_warm_up_compiles_what_a_run_needs_and_runs_read_it(tmp_path):
    out = _run(["-m", "semclust.cli.main", "warm-up"], tmp_path)
    assert "compiled and cached the clustering code" in out
    written = {p.parent.name for p in tmp_path.rglob("*.nbi")}
    assert any(name.startswith("umap") for name in written)
    assert any(name.startswith("pynndescent") for name in written)

    first, second = (json.loads(next(line for line in _run(["-c", RUN], tmp_path).splitlines()
                                     if line.startswith("{"))) for _ in range(2))
    assert first["hits"] >= 20
    # the run compiled nothing the cache could have kept: what it missed, the next run misses too
    assert first["missed"] == second["missed"]
    assert "umap.layouts._nb_optimize_layout_euclidean_single_epoch" not in first["missed"]
    np.testing.assert_array_equal(np.array(second["layout"]), np.array(first["layout"]))
    np.testing.assert_array_equal(np.array(second["map"]), np.array(first["map"]))
