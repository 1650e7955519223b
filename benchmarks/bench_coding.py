"""A rating study at scale: sample -> serve -> 100 coders over HTTP -> export -> evaluate.

Run:  .venv/bin/python benchmarks/bench_coding.py [--images 1000] [--coders 100] [--workers 16]

Builds a study of N generated images (random 64-px pictures, each with a post text from
one of K themes), clusters it (tfidf:8 + pca:5 + kmeans:K), then times, in one process:

* ``semclust sample ratings`` (stratified, 2 per cluster, 8 per coder, groups D and R),
* ``semclust annotate serve`` (the real app under uvicorn on 127.0.0.1) while C simulated
  coders (half D, half R) each open their group's signed link with their own participant
  id and cookie jar, fetch each unit page and its image, and post 8 ratings on the 10
  emotions -- all with httpx, ``--workers`` coders at a time,
* ``semclust annotate export`` and ``semclust evaluate --ratings`` (2,000 bootstrap
  replicates, both weightings, both figures).

Prints seconds per phase, answers per second and the latency of an answer post.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("SEMCLUST_QUIET", "1")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from semclust.cli import app as cli  # noqa: E402
from semclust.study.config import RunConfig  # noqa: E402
from semclust.study.pipeline import cluster_run, label_run  # noqa: E402
from semclust.study.workspace import Study  # noqa: E402

WORDS = "solar ocean protest forest flood cattle glacier bicycle border child flag vote".split()


def invoke(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exit_code != 0:
        raise SystemExit(f"semclust {' '.join(map(str, args))} failed:\n{result.output}")
    return " ".join(result.output.split())


def build_study(root: Path, n_images: int, n_clusters: int) -> tuple[Path, str]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_images):
        theme = i % n_clusters
        path = root / "img" / f"p{i:05d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((64, 64)).save(path)
        words = [f"theme{theme}", f"topic{theme}", *rng.choice(WORDS, 2)]
        rows.append({"id": f"p{i:05d}", "image": str(path), "text": " ".join(words)})
    pd.DataFrame(rows).to_csv(root / "posts.csv", index=False)
    config = RunConfig(
        describer="column:text", embedder="tfidf:8", reducer="pca:5", map="none",
        clusterer=f"kmeans:{n_clusters}", seed=0,
    )  # fmt: skip
    with Study(root / "study") as s:
        s.ingest(root / "posts.csv", progress=False)
        s.describe("column:text")
        run = label_run(cluster_run(s, config, progress=False))
    return root / "study", run.id


def coder(base: str, url: str, pid: str, rng: np.random.Generator, latencies: list) -> int:
    """One participant: open the link, rate every unit, end on the completion page."""
    answers = 0
    with httpx.Client(base_url=base, follow_redirects=True, timeout=60) as client:
        page = client.get(url.replace("{{%PROLIFIC_PID%}}", pid))
        while f"/code/{pid}/" in str(page.url) and not str(page.url).endswith("/units"):
            src = re.search(r'<img src="(/image/[^"]+)"', page.text).group(1)
            client.get(src)
            form = {"action": "save"} | {
                name: str(int(rng.integers(1, 11)))
                for name in re.findall(r'<fieldset class="rating" data-scale="(\w+)"', page.text)
            }
            started = time.perf_counter()
            page = client.post(str(page.url.path), data=form)
            latencies.append(time.perf_counter() - started)
            answers += 1
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--coders", type=int, default=100)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        folder, run = build_study(root, args.images, args.clusters)
        print(f"study: {args.images} images, {args.clusters} clusters, built in {time.perf_counter() - t0:.1f} s")
        timings = {}

        t = time.perf_counter()
        invoke("sample", "ratings", "--study", folder, "--run", run, "--per-cluster", 2,
               "--groups", "party=D,R", "--out", root / "plan")  # fmt: skip
        timings["sample ratings"] = time.perf_counter() - t
        plan = pd.read_csv(root / "plan.csv")

        served = {}
        original = uvicorn.run
        uvicorn.run = lambda app, **kw: served.update(app=app)
        t = time.perf_counter()
        invoke("annotate", "serve", "--study", folder, "--task", root / "plan.csv",
               "--scales", "emotions-casas", "--completion-code", "DONE1")  # fmt: skip
        uvicorn.run = original
        server = uvicorn.Server(uvicorn.Config(served["app"], host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        timings["serve: load task, start app"] = time.perf_counter() - t
        links = dict(re.findall(r"party=(\w) (\S+)", invoke(
            "annotate", "link", "--study", folder, "--task", "plan", "--base-url", base)))  # fmt: skip

        latencies: list[float] = []
        t = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            jobs = [
                pool.submit(coder, base, links["DR"[k % 2]], f"pid{k:05d}",
                            np.random.default_rng(k), latencies)  # fmt: skip
                for k in range(args.coders)
            ]
            answers = sum(job.result() for job in jobs)
        coding = time.perf_counter() - t
        timings[f"{args.coders} coders rate over HTTP"] = coding
        server.should_exit = True
        thread.join()

        t = time.perf_counter()
        invoke("annotate", "export", "--study", folder, "--task", "plan", "--out", root / "ratings.csv")
        timings["annotate export"] = time.perf_counter() - t
        t = time.perf_counter()
        invoke("evaluate", "--study", folder, "--run", run, "--ratings", root / "ratings.csv",
               "--weighting", "both")  # fmt: skip
        timings["evaluate --ratings (2,000 bootstrap replicates)"] = time.perf_counter() - t

        print(f"plan: {len(plan)} images in {plan['slot'].nunique()} slots of 8; "
              f"{answers} answers from {args.coders} coders ({args.workers} at a time)")  # fmt: skip
        for phase, seconds in timings.items():
            print(f"  {phase:<48} {seconds:7.2f} s")
        ms = sorted(1000 * x for x in latencies)
        print(f"  answers per second: {answers / coding:.0f}; answer post latency "
              f"median {statistics.median(ms):.0f} ms, p95 {ms[int(0.95 * len(ms))]:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
