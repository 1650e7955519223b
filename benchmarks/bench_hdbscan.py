"""hdbscan against fast_hdbscan on the reduced vectors semclust clusters: seconds, peak memory, AMI.

Run:  nice .venv/bin/python benchmarks/bench_hdbscan.py [--corpora synth-10000,synth-100000,newsgroups]
          [--cache ~/.cache/semclust/textsets]

Each corpus is reduced once as semclust's defaults reduce it (``ParallelSearchUMAP`` with the
auto preset's ``umap:`` settings; cached in ``--cache``), then clustered with the auto preset's
``hdbscan:M[:S]`` by each clusterer in its own child process, so that its peak memory
(``VmHWM``, benchmarks/peak_memory.py; the reduced matrix included) and its compile time are its own:

- ``hdbscan``: semclust's default (``hdbscan.HDBSCAN``, Borůvka KD-tree for these dimensions);
- ``fast_hdbscan, first run``: ``fast_hdbscan.HDBSCAN(reproducible=True)`` in a process whose
  numba cache (``NUMBA_CACHE_DIR``) is empty, as on a machine's first run;
- ``fast_hdbscan, cached``: the same with fast_hdbscan's kernels kept in numba's disk cache
  (:func:`semclust.core.compiled_cache.cache_compiled_code`), run twice, the second timed.

``fit s`` is ``fit_predict`` alone, ``process s`` the child from start to exit (imports and
compilation included), AMI is against the known classes (outliers one group) and against
hdbscan's labels. Real sets: benchmarks/real_text_sets.py; ``synth-N``: 30 classes in 384-d.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peak_memory import peak_mb  # noqa: E402  (a benchmarks/ module)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

FAST_HDBSCAN_MODULES = ("fast_hdbscan.hdbscan", "fast_hdbscan.boruvka", "fast_hdbscan.cluster_trees",
                        "fast_hdbscan.numba_kdtree", "fast_hdbscan.disjoint_set", "fast_hdbscan.core_graph")


def reduced_corpus(name: str, cache: Path):
    """(reduced vectors, classes, clusterer spec) of ``name``, reduced as semclust's defaults do."""
    from bench_umap_epochs import corpus

    from semclust.stages.reduce import create_reducer
    from semclust.study.adaptive import auto_settings

    X, y = corpus(name, str(cache))
    settings = auto_settings(len(X))
    path = cache / f"reduced-{name}-{settings.reducer.replace(':', '_')}.npy"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, create_reducer(settings.reducer, 0).fit_transform(X).astype(np.float32))
    return path, np.asarray(y), settings.clusterer


def child(kind: str, reduced: str, spec: str, out: str) -> None:
    from semclust.stages.cluster import create_clusterer

    X = np.load(reduced)
    if kind == "fast_hdbscan_cached":
        from semclust.core.compiled_cache import cache_compiled_code

        cache_compiled_code(FAST_HDBSCAN_MODULES)
    name = "hdbscan" if kind == "hdbscan" else "fast_hdbscan"
    estimator = create_clusterer(spec.replace("hdbscan:", f"{name}:"), random_state=0)
    start = time.perf_counter()
    labels = estimator.fit_predict(X)
    seconds = time.perf_counter() - start
    np.save(out, np.asarray(labels))
    print("RESULT " + json.dumps({"fit_s": seconds, "peak_mb": peak_mb()}), flush=True)


def run_child(kind: str, reduced: Path, spec: str, out: Path, numba_cache: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--reduced", str(reduced), "--spec", spec, "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"NUMBA_CACHE_DIR": str(numba_cache)})
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} failed: {proc.stderr[-1500:]}")
    return json.loads(lines[-1][len("RESULT "):]) | {"process_s": wall}


def main() -> None:
    from bench_umap_epochs import label_scores

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", default="synth-10000,synth-100000,newsgroups")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "semclust" / "textsets"))
    parser.add_argument("--child")
    parser.add_argument("--reduced")
    parser.add_argument("--spec")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.reduced, args.spec, args.out)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.corpora.split(","):
            reduced, truth, spec = reduced_corpus(name, Path(args.cache))
            numba_cache = Path(tmp) / f"numba-{name}"
            runs = [("hdbscan", "hdbscan"), ("fast_hdbscan, first run", "fast_hdbscan"),
                    ("fast_hdbscan, cached (filling)", "fast_hdbscan_cached"),
                    ("fast_hdbscan, cached", "fast_hdbscan_cached")]
            reference = None
            for label, kind in runs:
                out = Path(tmp) / f"{name}-{kind}.npy"
                result = run_child(kind, reduced, spec, out, numba_cache)
                labels = np.load(out)
                reference = labels if reference is None else reference
                if label.endswith("(filling)"):
                    continue
                row = {"corpus": name, "n": len(labels), "spec": spec, "clusterer": label,
                       "fit s": round(result["fit_s"], 1), "process s": round(result["process_s"], 1),
                       "peak MB": round(result["peak_mb"]),
                       **label_scores(truth, reference, labels, "hdbscan"),
                       "outliers": round(float(np.mean(labels < 0)), 3)}
                rows.append(row)
                print(row, flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
