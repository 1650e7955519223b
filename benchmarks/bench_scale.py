"""Seconds per step and peak memory from cached vectors to report.html, at 10k, 100k and 1M items.

Run:  nice .venv/bin/python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--classes 30]

Data: :func:`synthetic_vectors.sphere_mixture` (384 dimensions, known classes), written as a
``.npy`` aligned with a CSV of ids, so embedding time is out of it: the study is built with
``ingest`` (a table without images) and clustered with ``--embedder npy:FILE``.

Side by side in one run, each configuration in its own child process (so that its peak
memory, ``ru_maxrss``, is its own):

- ``defaults``: semclust with no settings (``--preset auto``; above 200k items that includes
  the automatic fit on a 100k sample);
- ``fit-sample``: the same with ``--fit-sample 20000`` (fit on 20k, assign the rest);
- ``bertopic``: ``BERTopic().fit_transform(docs, embeddings)`` on the same vectors with its
  default UMAP (given random_state=0) and HDBSCAN (10k and 100k only);
- ``store-io``: writing and reading the 1M vectors through the study store in bulk
  (``put_vectors`` / ``get_matrix``) and as item vectors.

Steps of a semclust run: ingest, read vectors, fit (reduce + cluster, and assign when
sampled), map, assignments, label, report.  AMI is against the known classes, outliers
counted as one group; ``ami_vs_defaults`` compares a fit-sample run with the full defaults.
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
os.environ.setdefault("SEMCLUST_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Steps:
    """Wall seconds of named steps, from wrappers put around the pipeline's own functions."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def wrap(self, module, name: str, label: str):
        original = getattr(module, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)

    def time(self, label: str, fn):
        start = time.perf_counter()
        value = fn()
        self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
        return value


def child_semclust(data: Path, fit_sample: int | None, out: Path, map_kind: str = "umap") -> dict:
    from semclust.study import pipeline, routes
    from semclust.study.config import RunConfig
    from semclust.study.workspace import Study

    steps = Steps()
    steps.wrap(routes, "route_features", "read vectors")
    steps.wrap(pipeline, "fit_model", "fit (+ assign)")
    steps.wrap(pipeline, "map_coordinates", "map")
    steps.wrap(pipeline, "build_assignments", "assignments")
    steps.wrap(pipeline, "exemplar_flags", "exemplars")
    steps.wrap(pipeline, "save_model", "save model")
    steps.wrap(pipeline.Run, "save", "save run files")
    with Study(out) as study:
        steps.time("ingest", lambda: study.ingest(data / "rows.csv", progress=False))
        config = RunConfig(embedder=f"npy:{data / 'vectors.npy'}", fit_sample=fit_sample, map=map_kind)
        run = steps.time("cluster run (total)", lambda: pipeline.cluster_run(study, config, progress=False))
        steps.time("label", lambda: pipeline.label_run(run))
        steps.time("report", lambda: pipeline.report_run(run))
        labels = run.assignments.set_index("id")["cluster"].astype(int)
        labels.to_frame().to_parquet(out / "labels.parquet")
        return {"seconds": steps.seconds, "settings": f"{run.config['reducer']} + {run.config['clusterer']}",
                "n_fitted": run.metrics.get("n_fitted"), "labels": str(out / "labels.parquet")}


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
        result = child_semclust(data, args.fit_sample, out, args.map)
    result["peak_mb"] = peak_mb()
    print("RESULT " + json.dumps(result), flush=True)


MAP = "umap"


def run_child(kind: str, data: Path, work: Path, fit_sample: int | None = None) -> dict:
    out = work / kind
    cmd = [sys.executable, __file__, "--child", kind, "--data", str(data), "--out", str(out), "--map", MAP]
    if fit_sample is not None:
        cmd += ["--fit-sample", str(fit_sample)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:200], "wall": wall}
    return json.loads(lines[-1][len("RESULT "):]) | {"wall": wall}


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
    args = parser.parse_args()
    global MAP
    MAP = args.map
    if args.child:
        child(args)
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            data = Path(tmp) / f"n{n}"
            truth = make_data(n, args.classes, data)
            methods = args.methods.split(",")
            results = {}
            if "defaults" in methods:
                results["defaults"] = run_child("defaults", data, data)
            if "fit-sample" in methods and n > args.sample:
                results["fit-sample"] = run_child("fit-sample", data, data, fit_sample=args.sample)
            if "bertopic" in methods and n <= args.bertopic_max:
                results["bertopic"] = run_child("bertopic", data, data)
            if "store-io" in methods and n >= 1_000_000:
                results["store-io"] = run_child("store-io", data, data)
            for kind, result in results.items():
                row = {"n": n, "method": kind, "settings": result.get("settings", ""),
                       "wall s": round(result["wall"], 1),
                       "peak MB": round(result["peak_mb"]) if "peak_mb" in result else None}
                if "labels" in result:
                    row["AMI vs classes"] = round(ami(result["labels"], truth), 3)
                    if kind == "fit-sample" and "labels" in results.get("defaults", {}):
                        row["AMI vs defaults"] = round(ami(result["labels"], truth, results["defaults"]["labels"]), 3)
                row["steps (s)"] = "; ".join(f"{k} {v:.1f}" for k, v in result.get("seconds", {}).items())
                if "error" in result:
                    row["steps (s)"] = "FAILED: " + result["error"]
                rows.append(row)
                print(json.dumps(row), flush=True)
    frame = pd.DataFrame(rows)
    print()
    print(frame.to_string(index=False))


if __name__ == "__main__":
    main()
