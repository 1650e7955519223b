"""numba's compiled UMAP/pynndescent code is written to disk by the first run and read by the next.

Each run is a fresh interpreter (the cache only matters across processes); NUMBA_CACHE_DIR points
numba at a temporary folder so the test neither needs nor touches the installed packages' folders.
"""

import json
import os
import subprocess
import sys

import numpy as np

RUN = r"""
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
import umap.layouts
from semclust.stages.reduce.parallel_umap import ParallelSearchUMAP

rng = np.random.default_rng(0)
X = rng.normal(size=(4200, 8)).astype(np.float32)
X[:2100] += 3
Y = ParallelSearchUMAP(n_components=2, n_neighbors=10, n_epochs=20, random_state=0).fit_transform(X)
optimise = umap.layouts._nb_optimize_layout_euclidean_single_epoch
print(json.dumps({"first_rows": Y[:50].tolist(), "hits": sum(optimise.stats.cache_hits.values()),
                  "misses": sum(optimise.stats.cache_misses.values())}))
"""


def _run(cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_second_run_reads_the_first_runs_compiled_code_and_gives_the_same_layout(tmp_path):
    first = _run(tmp_path)
    assert first["hits"] == 0 and first["misses"] >= 1  # nothing cached yet: compiled and written
    written = {p.parent.name for p in tmp_path.rglob("*.nbi")}
    assert any(name.startswith("umap") for name in written)
    assert any(name.startswith("pynndescent") for name in written)

    second = _run(tmp_path)
    assert second["hits"] >= 1 and second["misses"] == 0
    np.testing.assert_array_equal(np.array(second["first_rows"]), np.array(first["first_rows"]))
