"""Wall time and peak memory of ``semclust grid`` against a naive loop that recomputes every step.

Run:  .venv/bin/python benchmarks/bench_grid.py [--n 20000] [--embedders tfidf:20,st:all-MiniLM-L6-v2]
                                               [--naive all | --naive N] [--jobs -1]

Data: N synthetic descriptions built like benchmarks/bench_pipeline.py does, ingested into a fresh
study with ``column:description`` (20 tiny shared images stand in for the pictures).

Grid: the embedders x {pca:5, pca:10, umap:5:15} x {hdbscan:50, hdbscan:200, kmeans:7, kmeans:15,
kmeans:32}, seed 0 (30 settings with two embedders).  Two measurements, each in its own process so
that its peak memory is its own:

- ``grid``: :func:`semclust.grid.run_grid` on a cold study (every embedding computed once, each
  reduction once, clusterings in parallel over ``--jobs`` workers, plots), then the same grid again
  (everything already done: the resume path).
- ``naive``: for each setting, embed the descriptions (no cache), reduce, cluster and compute the
  internal indices, one setting after the other.  With ``--naive N`` only N settings are run (one
  per embedder x reducer first, clusterers in turn) and the total for every setting is extrapolated:
  each setting costs embed(embedder) + reduce(embedder, reducer), measured by the naive runs, plus
  its clustering and scoring seconds as measured by the grid.  The output says so.

Peak memory: ``ru_maxrss`` of the measuring process, and the peak of the summed resident memory
of that process and all its workers (loky), sampled from /proc every 0.25 s (Linux only).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("SEMCLUST_QUIET", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import synthetic_descriptions  # noqa: E402

REDUCERS = ["pca:5", "pca:10", "umap:5:15"]
CLUSTERERS = ["hdbscan:50", "hdbscan:200", "kmeans:7", "kmeans:15", "kmeans:32"]


def grid_spec(embedders: list[str]) -> dict:
    return {"name": "bench", "embedders": embedders, "reducers": REDUCERS, "clusterers": CLUSTERERS}


def build_study(folder: Path, n: int) -> None:
    """A study of ``n`` synthetic descriptions, each item pointing at one of 20 tiny images."""
    from PIL import Image

    from semclust.study.workspace import Study

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        Image.new("RGB", (16, 16), (12 * i, 80, 160)).save(folder / f"{i}.png")
    texts = synthetic_descriptions(n)
    table = pd.DataFrame({"id": [f"p{i:06d}" for i in range(n)],
                          "image": [f"{i % 20}.png" for i in range(n)], "description": texts})  # fmt: skip
    table.to_csv(folder / "posts.csv", index=False)
    with Study(folder / "study") as study:
        study.ingest(folder / "posts.csv", progress=False)
        study.describe("column:description")


class TreeMemory(threading.Thread):
    """Peak summed resident memory of this process and all its descendants (Linux /proc).

    ``ru_maxrss`` of children cannot give this: the kernel keeps the largest single child, and
    a child forked from a big parent starts with the parent's peak.
    """

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval, self.peak_mb, self._stop_event = interval, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.peak_mb = max(self.peak_mb, tree_rss_mb(os.getpid()))

    def stop(self) -> dict:
        self._stop_event.set()
        self.join()
        return {
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # kB on Linux
            "peak_tree_rss_mb": max(
                self.peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            ),
        }


def tree_rss_mb(root: int) -> float:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - tree
        tree |= frontier
    return sum(_rss_kb(pid) for pid in tree) / 1024


def _rss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


def measure_grid(study_folder: Path, embedders: list[str], jobs: int) -> dict:
    from semclust.study.workspace import Study
    from semclust.validation.grid_file import parse_grid
    from semclust.validation.grid_runner import run_grid

    grid = parse_grid(grid_spec(embedders))
    memory = TreeMemory()
    memory.start()
    with Study(study_folder) as study:
        start = time.perf_counter()
        outcome = run_grid(study, grid, n_jobs=jobs, progress=False)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        again = run_grid(study, grid, n_jobs=jobs, progress=False)
        resume = time.perf_counter() - start
    results = outcome.results
    per_setting = results[["embedder", "reducer", "clusterer", "cluster_seconds", "score_seconds"]]
    return {
        "wall_s": wall, "resume_wall_s": resume, "resume_skipped": again.n_skipped,
        "settings": len(results), "reductions": outcome.n_reductions, "phases": outcome.seconds,
        "errors": int(results["error"].notna().sum()),
        "per_setting": per_setting.to_dict(orient="records"),
    } | memory.stop()  # fmt: skip


def naive_settings(embedders: list[str], count: int | None) -> list[tuple[str, str, str]]:
    """All settings, or ``count`` of them covering each embedder x reducer before repeating one."""
    if count is None:
        return list(itertools.product(embedders, REDUCERS, CLUSTERERS))
    pairs = list(itertools.product(embedders, REDUCERS))
    cycle = itertools.cycle(CLUSTERERS)
    return [(*pairs[i % len(pairs)], next(cycle)) for i in range(count)]


def measure_naive(study_folder: Path, embedders: list[str], count: int | None) -> dict:
    from semclust.stages.cluster import create_clusterer
    from semclust.stages.embed import create_text_embedder
    from semclust.stages.reduce import create_reducer
    from semclust.study.workspace import Study
    from semclust.validation.evaluate.internal import internal_indices

    with Study(study_folder) as study:
        texts = study.descriptions().dropna().tolist()
    memory = TreeMemory()
    memory.start()
    rows = []
    start = time.perf_counter()
    for embedder, reducer, clusterer in naive_settings(embedders, count):
        t0 = time.perf_counter()
        X = create_text_embedder(embedder, **({"progress": False} if embedder.startswith("st") else {})).embed_texts(texts)  # fmt: skip
        t1 = time.perf_counter()
        reduced = create_reducer(reducer, random_state=0).fit_transform(X)
        t2 = time.perf_counter()
        labels = create_clusterer(clusterer, random_state=0).fit_predict(reduced)
        t3 = time.perf_counter()
        internal_indices(reduced, labels, random_state=0)
        t4 = time.perf_counter()
        rows.append({"embedder": embedder, "reducer": reducer, "clusterer": clusterer, "embed_s": t1 - t0,
                     "reduce_s": t2 - t1, "cluster_s": t3 - t2, "score_s": t4 - t3})  # fmt: skip
    return {"wall_s": time.perf_counter() - start, "rows": rows} | memory.stop()


def extrapolate(naive: dict, grid: dict) -> float:
    """Naive seconds for every setting: measured embed + reduce per pair, the grid's cluster + score."""
    measured = pd.DataFrame(naive["rows"])
    steps = measured.groupby(["embedder", "reducer"])[["embed_s", "reduce_s"]].mean()
    settings = pd.DataFrame(grid["per_setting"])
    fixed = steps.loc[list(zip(settings["embedder"], settings["reducer"], strict=True))].sum(axis=1)
    return float(fixed.sum() + settings["cluster_seconds"].sum() + settings["score_seconds"].sum())


def run_child(mode: str, args: argparse.Namespace, study: Path) -> dict:
    command = [sys.executable, __file__, "--mode", mode, "--study", str(study), "--embedders",
               args.embedders, "--naive", args.naive, "--jobs", str(args.jobs)]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(args: argparse.Namespace, grid: dict, naive: dict) -> None:
    n_settings = grid["settings"]
    n_naive = len(naive["rows"])
    complete = n_naive == n_settings
    naive_total = naive["wall_s"] if complete else extrapolate(naive, grid)
    label = "measured" if complete else f"EXTRAPOLATED from {n_naive} measured settings"
    table = pd.DataFrame([
        {"run": f"grid, cached + {os.cpu_count()} cores (jobs={args.jobs})", "settings": n_settings,
         "wall_s": grid["wall_s"], "peak_rss_mb": grid["peak_rss_mb"],
         "peak_with_workers_mb": grid["peak_tree_rss_mb"]},
        {"run": "grid again (all done: resume path)", "settings": grid["resume_skipped"],
         "wall_s": grid["resume_wall_s"], "peak_rss_mb": np.nan, "peak_with_workers_mb": np.nan},
        {"run": f"naive loop, {n_naive} settings measured", "settings": n_naive,
         "wall_s": naive["wall_s"], "peak_rss_mb": naive["peak_rss_mb"],
         "peak_with_workers_mb": naive["peak_tree_rss_mb"]},
        {"run": f"naive loop, all settings ({label})", "settings": n_settings,
         "wall_s": naive_total, "peak_rss_mb": np.nan, "peak_with_workers_mb": np.nan},
    ])  # fmt: skip
    pd.set_option("display.width", 200)
    print(
        f"{args.n} descriptions; embedders {args.embedders}; reducers {REDUCERS}; clusterers {CLUSTERERS}"
    )
    print(table.round(1).to_string(index=False))
    print(f"speed-up, naive / grid wall time: {naive_total / grid['wall_s']:.1f}x ({label})")
    phases = {k: round(v, 1) for k, v in grid["phases"].items()}
    print(f"grid: {grid['reductions']} reductions for {n_settings} settings, {grid['errors']} failed; "
          f"wall seconds per phase {phases}")  # fmt: skip
    steps = (
        pd.DataFrame(naive["rows"])
        .groupby("embedder")[["embed_s", "reduce_s", "cluster_s", "score_s"]]
        .mean()
    )
    print("naive loop, mean seconds per step and setting:")
    print(steps.round(1).to_string())
    if not complete:
        print(
            "extrapolation: sum over all settings of embed(embedder) + reduce(embedder, reducer) measured by "
            "the naive runs, plus each setting's clustering + scoring seconds measured in the grid's workers"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--embedders", default="tfidf:20,st:all-MiniLM-L6-v2")
    parser.add_argument(
        "--naive", default="6", help="'all', or how many settings the naive loop runs"
    )
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--mode", choices=["grid", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--study", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    embedders = args.embedders.split(",")
    if args.naive != "all" and int(args.naive) < len(embedders) * len(REDUCERS):
        parser.error(
            f"--naive must be 'all' or at least {len(embedders) * len(REDUCERS)} (one per embedder x reducer)"
        )
    if args.mode == "grid":
        print(json.dumps(measure_grid(args.study, embedders, args.jobs)))
        return
    if args.mode == "naive":
        print(
            json.dumps(
                measure_naive(
                    args.study, embedders, None if args.naive == "all" else int(args.naive)
                )
            )
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        build_study(Path(tmp), args.n)
        grid = run_child("grid", args, Path(tmp) / "study")
        naive = run_child("naive", args, Path(tmp) / "study")  # reads descriptions only: no cache
    report(args, grid, naive)


if __name__ == "__main__":
    main()
