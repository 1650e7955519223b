"""Seconds per step and peak memory from cached vectors to report.html, at 10k, 100k and 1M items.

Run:  nice .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--classes 30]
          [--methods first-run,defaults,bertopic,baseline,fast-hdbscan] [--baseline-src /path/to/old/src]

Data: :func:`synthetic_vectors.sphere_mixture` (384 dimensions, known classes), written as a
``.npy`` aligned with a CSV of ids, so embedding time is out of it: the study is built with
``ingest`` (a table without images) and clustered with ``--embedder npy:FILE``.

Side by side in one run, each configuration in its own child process (so that its peak
memory, ``VmHWM`` (benchmarks/peak_memory.py), is its own):

- ``defaults``: semclust with no settings (``--preset auto``; above 200k items that includes
  the automatic fit on a 100k sample);
- ``first-run``: the defaults on a machine where nothing is compiled yet, at the first size
  only: numba's cache (``NUMBA_CACHE_DIR``) is an empty folder, which ``defaults`` then reuses
  at every size, so ``defaults`` is every later run (semclust.core.compiled_cache keeps UMAP's
  and pynndescent's compiled code);
- ``baseline``: the same, run with another checkout's ``src`` first on the path
  (``--baseline-src``), for a before/after table in one invocation;
- ``fast-hdbscan``: the defaults with ``fast_hdbscan`` in place of ``hdbscan`` (same sizes);
- ``fit-sample``: the same with ``--fit-sample 20000`` (fit on 20k, assign the rest);
- ``bertopic``: ``BERTopic().fit_transform(docs, embeddings)`` on the same vectors with its
  default UMAP (given random_state=0) and HDBSCAN (10k and 100k only);
- ``store-io``: writing and reading the 1M vectors through the study store in bulk
  (``put_vectors`` / ``get_matrix``) and as item vectors.

Steps of a semclust run, timed by wrappers around the libraries' own functions and each
counted once (a step's time excludes the steps inside it): kNN graph (pynndescent, through
``umap.umap_.nearest_neighbors`` or the reducer's parallel ``neighbour_search``), fuzzy graph, UMAP optimisation (``simplicial_set_embedding``,
spectral start included), HDBSCAN, assignment of the rest, map, labels, report, store I/O
(ingest, read vectors, save run files, save model), and ``fit (rest)`` for what ``fit_model``
does around them.  A step inside the map is shown as ``step (map)``: a second UMAP shows as
``kNN graph (map)``.  AMI is against the known classes, outliers counted as one group.  The
map's quality: ``map own-cluster`` = share of each clustered item's 10 nearest map neighbours
in its own cluster (20k items drawn), ``map trust`` = ``sklearn.manifold.trustworthiness`` of
the map against the 384-d vectors on 2,000 drawn items (10 neighbours).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peak_memory import peak_mb  # noqa: E402  (a benchmarks/ module)

os.environ.setdefault("SEMCLUST_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")


class Steps:
    """Wall seconds of named steps, from wrappers put around the pipeline's and libraries' functions.

    Each step's time excludes the wrapped steps called inside it; a step called inside one of
    :data:`NESTED_SHOWN` is recorded as ``step (outer)``.
    """

    NESTED_SHOWN = ("map", "assignment of the rest")

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._stack: list[list] = []  # [label, seconds of the steps inside it]

    def _run(self, label: str, fn, *args, **kwargs):
        outer = [frame[0] for frame in self._stack if frame[0] in self.NESTED_SHOWN]
        key = f"{label} ({outer[-1]})" if outer and outer[-1] != label else label
        frame = [key, 0.0]
        self._stack.append(frame)
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.perf_counter() - start
            self._stack.pop()
            if self._stack:
                self._stack[-1][1] += spent
            self.seconds[key] = self.seconds.get(key, 0.0) + spent - frame[1]

    def wrap(self, owner, name: str, label: str):
        original = getattr(owner, name, None)
        if original is None:  # an older checkout (baseline) may lack it
            return

        def timed(*args, **kwargs):
            return self._run(label, original, *args, **kwargs)

        setattr(owner, name, timed)

    def time(self, label: str, fn):
        return self._run(label, fn)


def map_quality(coords: np.ndarray, labels: np.ndarray, X: np.ndarray, seed: int = 0) -> dict:
    """How well the map keeps clusters together and neighbourhoods true (see the module docstring)."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    clustered = np.flatnonzero(labels >= 0)
    drawn = rng.choice(clustered, min(20_000, len(clustered)), replace=False)
    near = NearestNeighbors(n_neighbors=11).fit(coords).kneighbors(coords[drawn], return_distance=False)[:, 1:]
    own = float((labels[near] == labels[drawn, None]).mean())
    few = np.sort(rng.choice(len(X), min(2_000, len(X)), replace=False))
    trust = float(trustworthiness(np.asarray(X[few]), coords[few], n_neighbors=10))
    return {"map own-cluster": round(own, 4), "map trust": round(trust, 4)}


def child_semclust(data: Path, fit_sample: int | None, out: Path, map_kind: str = "umap",
                   clusterer: str | None = None) -> dict:
    import hdbscan
    import umap.umap_

    from semclust.stages import fitted_model
    from semclust.study import pipeline, routes
    from semclust.study.config import RunConfig
    from semclust.study.workspace import Study

    steps = Steps()
    steps.wrap(routes, "route_features", "store: read vectors")
    steps.wrap(pipeline, "fit_model", "fit (rest)")
    steps.wrap(umap.umap_, "nearest_neighbors", "kNN graph")
    try:  # the reducer's own parallel search (absent in an older checkout run as the baseline)
        from semclust.stages.reduce import parallel_umap

        steps.wrap(parallel_umap, "neighbour_search", "kNN graph")
    except ImportError:
        pass
    steps.wrap(umap.umap_, "fuzzy_simplicial_set", "fuzzy graph")
    steps.wrap(umap.umap_, "simplicial_set_embedding", "UMAP optimisation")
    steps.wrap(hdbscan.HDBSCAN, "fit", "HDBSCAN")
    if clusterer and clusterer.startswith("fast_hdbscan"):
        import fast_hdbscan

        steps.wrap(fast_hdbscan.HDBSCAN, "fit", "HDBSCAN")
    steps.wrap(fitted_model, "assign", "assignment of the rest")
    steps.wrap(pipeline, "map_coordinates", "map")
    steps.wrap(pipeline, "build_assignments", "assignments")
    steps.wrap(pipeline, "exemplar_flags", "exemplars")
    steps.wrap(pipeline, "save_model", "store: save model")
    steps.wrap(pipeline.Run, "save", "store: save run files")
    with Study(out) as study:
        steps.time("store: ingest", lambda: study.ingest(data / "rows.csv", progress=False))
        config = RunConfig(embedder=f"npy:{data / 'vectors.npy'}", fit_sample=fit_sample, map=map_kind,
                           clusterer=clusterer)
        start = time.perf_counter()
        run = pipeline.cluster_run(study, config, progress=False)
        total = time.perf_counter() - start
        steps.time("labels", lambda: pipeline.label_run(run))
        steps.time("report", lambda: pipeline.report_run(run))
        labels = run.assignments.set_index("id")["cluster"].astype(int)
        labels.to_frame().to_parquet(out / "labels.parquet")
        result = {"seconds": steps.seconds, "cluster run s": round(total, 1),
                  "settings": f"{run.config['reducer']} + {run.config['clusterer']}",
                  "n_fitted": run.metrics.get("n_fitted"), "labels": str(out / "labels.parquet")}
    if run.coords is not None:
        X = np.load(data / "vectors.npy", mmap_mode="r")
        result |= map_quality(run.coords, labels.to_numpy(), X)
    return result


def child_bertopic(data: Path, out: Path) -> dict:
    from bertopic import BERTopic
    from umap import UMAP

    X = np.load(data / "vectors.npy")
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False, random_state=0)
    start = time.perf_counter()
    topics, _ = BERTopic(umap_model=umap_model).fit_transform([f"item{i}" for i in range(len(X))], embeddings=X)
    seconds = time.perf_counter() - start
    ids = pd.read_csv(data / "rows.csv", usecols=["id"])["id"].astype(str)
    pd.DataFrame({"cluster": topics}, index=ids).to_parquet(out / "labels.parquet")
    return {"seconds": {"fit_transform": seconds}, "settings": "BERTopic defaults", "labels": str(out / "labels.parquet")}


def child_store_io(data: Path, out: Path) -> dict:
    from semclust.core.store import StudyStore
    from semclust.core.store.item_vectors import load_item_vectors, save_item_vectors

    X = np.load(data / "vectors.npy")
    keys = [f"{i:064x}" for i in range(len(X))]
    steps = Steps()
    store = StudyStore(out)
    steps.time("sqlite put_vectors", lambda: store.put_vectors("text_embeddings", "bench", keys, X))
    found, back = steps.time("sqlite get_matrix", lambda: store.get_matrix("text_embeddings", "bench", keys))
    assert found.all() and np.array_equal(back, X)
    steps.time("item vectors save", lambda: save_item_vectors(out, "column:vec", keys, X))
    ids, loaded = steps.time("item vectors load", lambda: load_item_vectors(out, "column:vec"))
    assert np.array_equal(loaded, X)
    return {"seconds": steps.seconds, "settings": "-"}


def child(args) -> None:
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.child == "bertopic":
        result = child_bertopic(data, out)
    elif args.child == "store-io":
        result = child_store_io(data, out)
    else:
        result = child_semclust(data, args.fit_sample, out, args.map, args.clusterer)
    result["peak_mb"] = peak_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime  # what load from other jobs changes least
    print("RESULT " + json.dumps(result), flush=True)


MAP = "umap"


def run_child(kind: str, data: Path, work: Path, fit_sample: int | None = None, clusterer: str | None = None,
              src: str | None = None, numba_cache: Path | None = None) -> dict:
    out = work / kind
    cmd = [sys.executable, __file__, "--child", kind, "--data", str(data), "--out", str(out), "--map", MAP]
    if fit_sample is not None:
        cmd += ["--fit-sample", str(fit_sample)]
    if clusterer is not None:
        cmd += ["--clusterer", clusterer]
    env = os.environ.copy()
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    if src is not None:  # another checkout's semclust first on the path
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200], "wall": wall}
    return json.loads(lines[-1][len("RESULT "):]) | {"wall": wall}


STEP_ORDER = ("store: ingest", "store: read vectors", "kNN graph", "fuzzy graph", "UMAP optimisation",
              "HDBSCAN", "assignment of the rest", "fit (rest)", "map", "kNN graph (map)",
              "fuzzy graph (map)", "UMAP optimisation (map)", "exemplars", "assignments",
              "store: save run files", "store: save model", "labels", "report")


def step_table(results: list[tuple[int, str, dict]]) -> pd.DataFrame:
    """One row per (size, method), one column per step (seconds), in pipeline order."""
    rows = {(f"{n:,}", method): result.get("seconds", {}) for n, method, result in results}
    frame = pd.DataFrame.from_dict(rows, orient="index").fillna(0.0).round(1)
    order = [c for c in STEP_ORDER if c in frame.columns] + [c for c in frame.columns if c not in STEP_ORDER]
    return frame[order]


def make_data(n: int, classes: int, folder: Path) -> np.ndarray:
    from synthetic_vectors import sphere_mixture

    X, y = sphere_mixture(n, classes, seed=n)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "vectors.npy", X)
    pd.DataFrame({"id": [f"i{i}" for i in range(n)], "truth": y}).to_csv(folder / "rows.csv", index=False)
    return y


def ami(labels_file: str, truth: np.ndarray, other: str | None = None) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    labels = pd.read_parquet(labels_file)["cluster"].to_numpy()
    reference = truth if other is None else pd.read_parquet(other)["cluster"].to_numpy()
    return adjusted_mutual_info_score(reference, labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--classes", type=int, default=30)
    parser.add_argument("--bertopic-max", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=20_000, help="--fit-sample of the fit-sample column")
    parser.add_argument("--methods", default="defaults,fit-sample,bertopic,store-io",
                        help="which configurations to run (comma-separated)")
    parser.add_argument("--work", default=None, help="folder for the data and studies (default: a temp folder)")
    parser.add_argument("--child", default=None)
    parser.add_argument("--data")
    parser.add_argument("--out")
    parser.add_argument("--fit-sample", type=int, default=None)
    parser.add_argument("--map", default="umap", help="the report's map: umap (default), pca or none")
    parser.add_argument("--clusterer", default=None, help="child only: the clusterer spec")
    parser.add_argument("--baseline-src", default=None,
                        help="the src folder of another checkout, run as the 'baseline' method")
    args = parser.parse_args()
    global MAP
    MAP = args.map
    if args.child:
        child(args)
        return
    rows, steps, ratios = [], [], []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            data = Path(tmp) / f"n{n}"
            truth = make_data(n, args.classes, data)
            methods = args.methods.split(",")
            results = {}
            if "baseline" in methods and args.baseline_src:
                results["baseline"] = run_child("baseline", data, data, src=args.baseline_src)
            numba_cache = Path(tmp) / "numba-cache" if "first-run" in methods else None
            if "first-run" in methods and not numba_cache.exists():  # the first size only: cold
                results["first-run"] = run_child("first-run", data, data, numba_cache=numba_cache)
            if "defaults" in methods:
                results["defaults"] = run_child("defaults", data, data, numba_cache=numba_cache)
            if "fast-hdbscan" in methods:
                from semclust.study.adaptive import settings_for

                spec = settings_for(n).clusterer.replace("hdbscan:", "fast_hdbscan:")
                results["fast-hdbscan"] = run_child("fast-hdbscan", data, data, clusterer=spec)
            if "fit-sample" in methods and n > args.sample:
                results["fit-sample"] = run_child("fit-sample", data, data, fit_sample=args.sample)
            if "bertopic" in methods and n <= args.bertopic_max:
                results["bertopic"] = run_child("bertopic", data, data)
            if "store-io" in methods and n >= 1_000_000:
                results["store-io"] = run_child("store-io", data, data)
            for kind, result in results.items():
                row = {"n": n, "method": kind, "settings": result.get("settings", ""),
                       "wall s": round(result["wall"], 1),
                       "CPU s": round(result["cpu_s"], 1) if "cpu_s" in result else None,
                       "peak MB": round(result["peak_mb"]) if "peak_mb" in result else None}
                if "labels" in result:
                    row["AMI vs classes"] = round(ami(result["labels"], truth), 3)
                    if kind == "fit-sample" and "labels" in results.get("defaults", {}):
                        row["AMI vs defaults"] = round(ami(result["labels"], truth, results["defaults"]["labels"]), 3)
                for key in ("map own-cluster", "map trust"):
                    if key in result:
                        row[key] = result[key]
                if "error" in result:
                    row["error"] = "FAILED: " + result["error"]
                rows.append(row)
                steps.append((n, kind, result))
                print(json.dumps(row | {"steps": result.get("seconds", {})}), flush=True)
            if "bertopic" in results and "wall" in results["bertopic"]:
                for kind in ("first-run", "defaults", "baseline", "fast-hdbscan"):
                    if kind in results and "peak_mb" in results[kind]:
                        ratios.append({"n": n, "method": kind,
                                       "time / BERTopic": round(results[kind]["wall"] / results["bertopic"]["wall"], 2),
                                       "CPU / BERTopic": round(results[kind]["cpu_s"] / results["bertopic"]["cpu_s"], 2),
                                       "peak / BERTopic": round(results[kind]["peak_mb"] / results["bertopic"]["peak_mb"], 2)})
    print()
    print(pd.DataFrame(rows).to_string(index=False))
    print("\nseconds per step")
    print(step_table(steps).to_string())
    if ratios:
        print("\nagainst BERTopic, same vectors")
        print(pd.DataFrame(ratios).to_string(index=False))


if __name__ == "__main__":
    main()
