"""Fit on one node, assign the rest on Ray: a measured simulation of the path to 10M+ items.

Run:  nice .venv/bin/python benchmarks/bench_ray_assign.py [--n 500000] [--fit-sample 100000] [--workers 2]

Data: :func:`synthetic_vectors.sphere_mixture` (384 dimensions, ``--classes`` known classes).
The fit set is a draw of ``--fit-sample`` items (100,000 = the automatic sample of
``semclust.stages.fitted_model``), clustered with the settings ``--preset auto`` gives that many items,
and saved as a run's model.  ``--n`` further items of the same mixture are then drawn chunk by
chunk (``--chunk`` rows, so memory stays bounded) and assigned, side by side in one invocation:

- ``one process``: ``assign(model, chunk)`` chunk after chunk;
- ``Ray``: :func:`semclust.study.ray_assign.assign_on_ray` on a local Ray instance with ``--workers``
  workers, fed by the same chunk generator.

Each step runs in its own child process, so peak memory (``VmHWM``, benchmarks/peak_memory.py) is its own; the Ray
workers' peak (``VmHWM``) and CPU seconds are read from /proc every second while they run.
Wall times include drawing the chunks (about 1% of the time).  On a shared machine the wall
rates depend on what else runs; items per CPU-second do not, so the 10M-item figures, an
extrapolation and not a measurement, use the Ray workers' measured items per CPU-second with
one core per worker.  AMI is against the known classes over the assigned items, outliers
counted as one group.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peak_memory import peak_mb  # noqa: E402  (a benchmarks/ module)

os.environ.setdefault("SEMCLUST_QUIET", "1")
warnings.filterwarnings("ignore")

MIXTURE_SEED = 7
TARGET = 10_000_000


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


def chunks(n: int, rows: int, classes: int, truth: list | None = None):
    """The ``n`` items to assign, ``rows`` at a time; their classes are appended to ``truth``."""
    from synthetic_vectors import sphere_mixture

    for number, start in enumerate(range(0, n, rows)):
        X, y = sphere_mixture(min(rows, n - start), classes, seed=MIXTURE_SEED, draw_seed=number + 1)
        if truth is not None:
            truth.append(y)
        yield X


def child_fit(args, work: Path) -> dict:
    from synthetic_vectors import sphere_mixture

    from semclust.stages.cluster import create_clusterer
    from semclust.stages.fitted_model import fit_model, save_model
    from semclust.stages.reduce import create_reducer
    from semclust.study.adaptive import settings_for

    X, _ = sphere_mixture(args.fit_sample, args.classes, seed=MIXTURE_SEED, draw_seed=0)
    settings = settings_for(len(X))
    start = time.perf_counter()
    fit = fit_model(X, create_reducer(settings.reducer, random_state=0),
                    create_clusterer(settings.clusterer, random_state=0), fit_sample=0)
    seconds = time.perf_counter() - start
    save_model(fit.model, work)
    return {"seconds": seconds, "settings": f"{settings.reducer} + {settings.clusterer}",
            "clusters": len(fit.model.label_map)}


def child_local(args, work: Path) -> dict:
    from semclust.stages.fitted_model import assign, load_model

    model = load_model(work)
    truth, labels = [], []
    start, cpu = time.perf_counter(), time.process_time()
    for X in chunks(args.n, args.chunk, args.classes, truth):
        labels.append(assign(model, X)[0])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    np.save(work / "truth.npy", np.concatenate(truth))
    np.save(work / "labels_local.npy", np.concatenate(labels))
    return {"seconds": seconds, "cpu_seconds": cpu}


class WorkerWatch(threading.Thread):
    """Peak RSS (VmHWM) and CPU seconds of each Ray assigner process, read from /proc every second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self.stop.wait(1.0):
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    if b"_Assigner" not in (proc / "cmdline").read_bytes():
                        continue
                    line = next(x for x in (proc / "status").read_text().splitlines() if x.startswith("VmHWM"))
                    stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, StopIteration):
                    continue
                self.peaks[int(proc.name)] = int(line.split()[1]) / 1024
                self.cpu[int(proc.name)] = (int(stat[11]) + int(stat[12])) / tick  # utime + stime


def child_ray(args, work: Path) -> dict:
    import ray

    from semclust.study.ray_assign import assign_on_ray

    start = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    watcher = WorkerWatch()
    watcher.start()
    start, cpu = time.perf_counter(), time.process_time()
    labels, _ = assign_on_ray(work, chunks(args.n, args.chunk, args.classes), workers=args.workers,
                              chunk_rows=args.chunk)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    watcher.stop.set()
    ray.shutdown()
    np.save(work / "labels_ray.npy", labels)
    return {"seconds": seconds, "ray_start_seconds": started, "driver_cpu_seconds": cpu,
            "worker_cpu_seconds": sum(watcher.cpu.values()), "workers_seen": len(watcher.cpu),
            "worker_peak_mb": max(watcher.peaks.values(), default=float("nan"))}


def run_child(kind: str, args, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--work", str(work), "--n", str(args.n),
           "--fit-sample", str(args.fit_sample), "--classes", str(args.classes),
           "--workers", str(args.workers), "--chunk", str(args.chunk)]
    load_before = loadavg()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):]) | {"load": f"{load_before} -> {loadavg()}"}
    print(kind, json.dumps(result), flush=True)
    return result


def report(args, fit: dict, local: dict, on_ray: dict, work: Path) -> None:
    from sklearn.metrics import adjusted_mutual_info_score

    truth = np.load(work / "truth.npy")
    mine, theirs = np.load(work / "labels_local.npy"), np.load(work / "labels_ray.npy")
    local_rate, ray_rate = args.n / local["seconds"], args.n / on_ray["seconds"]
    per_core = args.n / on_ray["worker_cpu_seconds"]
    print(f"\nfit: {args.fit_sample:,} items, {fit['settings']}, {fit['clusters']} clusters, "
          f"{fit['seconds']:.0f} s, peak {fit['peak_mb']:,.0f} MB (load {fit['load']})")
    print(f"assigning {args.n:,} items in chunks of {args.chunk:,}:\n")
    print("| assignment | wall s | items/s | speed-up | CPU s | items per CPU-s | peak MB | AMI vs classes | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| one process | {local['seconds']:.0f} | {local_rate:,.0f} | 1.00x | {local['cpu_seconds']:.0f} | "
          f"{args.n / local['cpu_seconds']:,.0f} | {local['peak_mb']:,.0f} | "
          f"{adjusted_mutual_info_score(truth, mine):.3f} | {local['load']} |")
    print(f"| Ray, {args.workers} local workers | {on_ray['seconds']:.0f} | {ray_rate:,.0f} | "
          f"{ray_rate / local_rate:.2f}x | workers {on_ray['worker_cpu_seconds']:.0f} + driver "
          f"{on_ray['driver_cpu_seconds']:.0f} | {per_core:,.0f} | driver {on_ray['peak_mb']:,.0f}, each worker "
          f"{on_ray['worker_peak_mb']:,.0f} | {adjusted_mutual_info_score(truth, theirs):.3f} | {on_ray['load']} |")
    print(f"\nRay labels identical to the one-process labels: {np.mean(mine == theirs):.2%} of items; "
          f"outliers {np.mean(theirs < 0):.1%}; Ray start {on_ray['ray_start_seconds']:.1f} s (not in the wall); "
          f"wall rate per worker {ray_rate / args.workers:,.0f} items/s")
    print(f"\nEXTRAPOLATION (not measured): {TARGET:,} items on W workers with a core each, at the Ray workers' "
          f"measured {per_core:,.0f} items per CPU-second: {TARGET:,} / ({per_core:,.0f} x W) s, "
          f"after the fit above ({fit['seconds']:.0f} s) on one node:\n")
    print("| nodes x workers | W | assignment (extrapolated) |")
    print("|---|---|---|")
    for nodes, per_node in [(1, 2), (1, 32), (4, 32), (16, 32)]:
        workers = nodes * per_node
        print(f"| {nodes} x {per_node} | {workers} | {TARGET / (per_core * workers) / 60:,.1f} min |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500_000, help="items to assign")
    parser.add_argument("--fit-sample", type=int, default=100_000, help="items the model is fitted on")
    parser.add_argument("--classes", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per chunk (per Ray task)")
    parser.add_argument("--work", default=None, help="folder for the model and labels (default: a temp folder)")
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child:
        work = Path(args.work)
        result = {"fit": child_fit, "local": child_local, "ray": child_ray}[args.child](args, work)
        print("RESULT " + json.dumps(result | {"peak_mb": peak_mb()}), flush=True)
        return
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        fit = run_child("fit", args, work)
        local = run_child("local", args, work)
        on_ray = run_child("ray", args, work)
        report(args, fit, local, on_ray, work)


if __name__ == "__main__":
    main()
