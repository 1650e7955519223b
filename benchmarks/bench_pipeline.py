"""Seconds per stage of the text route, and the embed stage against sentence-transformers itself.

Run:  .venv/bin/python benchmarks/bench_pipeline.py [--synthetic 20000]

Data: the 500 real LLaVA descriptions of ../shared/sample/cifar10-llava (when present) and a
synthetic set of N descriptions built from phrase pools.  For each: embed (cold cache, through
the study store), embed again (warm cache), reduce (umap:10:15), cluster (hdbscan), label, and
the ratio of semclust's cold embed throughput to calling ``SentenceTransformer.encode`` directly
on the same texts in the same process.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SEMCLUST_QUIET", "1")

from semclust.core.store import StudyStore  # noqa: E402
from semclust.stages.embed.sentence_transformers_backend import SentenceTransformerEmbedder  # noqa: E402
from semclust.stages.label import ClusterKeywords  # noqa: E402
from semclust.study.config import RunConfig  # noqa: E402
from semclust.study.pipeline import reduce_and_cluster  # noqa: E402
from semclust.study.workspace import Study  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "sample" / "cifar10-llava" / "posts.csv"

SUBJECTS = ["wind turbines", "a flooded street", "protesters with placards", "a plate of pasta", "a sleeping cat",
            "a football match", "solar panels", "a burning forest", "a polar bear on ice", "a city skyline"]
MOODS = ["hope", "urgency", "anger", "comfort", "joy", "fear", "pride", "nostalgia"]
FRAMES = ["The image conveys {m} through {s}.", "Showing {s}, the picture suggests {m} about the future.",
          "{s} evokes a sense of {m} and collective responsibility.", "A scene of {s} that conveys {m}."]


def synthetic_descriptions(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(FRAMES).format(s=rng.choice(SUBJECTS), m=rng.choice(MOODS))
                     for _ in range(3)) + f" ({i})" for i in range(n)]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench(name: str, texts: list[str], clusterer: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        study = Study.__new__(Study)
        study.folder, study.store = Path(tmp), StudyStore(tmp)
        # direct encode before and after semclust's cold embed, so drifting machine load cancels out
        direct = SentenceTransformerEmbedder(progress=False)._load()
        _, t_direct_1 = timed(lambda: direct.encode(texts, batch_size=64, normalize_embeddings=True))
        X, t_embed = timed(lambda: study.embed_texts(texts, "st:all-MiniLM-L6-v2", progress=False))
        _, t_direct_2 = timed(lambda: direct.encode(texts, batch_size=64, normalize_embeddings=True))
        t_direct = (t_direct_1 + t_direct_2) / 2
        _, t_warm = timed(lambda: study.embed_texts(texts, "st:all-MiniLM-L6-v2", progress=False))
        config = RunConfig(reducer="umap:10:15", clusterer=clusterer, seed=0)
        (labels, _, _), t_cluster = timed(lambda: reduce_and_cluster(X, config))
        reduce_only = RunConfig(reducer="umap:10:15", clusterer="kmeans:2", seed=0)
        _, t_reduce = timed(lambda: reduce_and_cluster(X, reduce_only))
        _, t_label = timed(lambda: ClusterKeywords().fit(texts, labels))
        study.store.close()
    return {
        "data": name, "n": len(texts), "embed_s": t_embed, "embed_cached_s": t_warm,
        "st_encode_s": t_direct, "embed_throughput_ratio": t_direct / t_embed,
        "reduce_s": t_reduce, "reduce+cluster_s": t_cluster, "label_s": t_label,
        "clusters": int(len(np.unique(labels[labels >= 0]))),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=20_000)
    args = parser.parse_args()
    rows = []
    # warm-up: numba compiles UMAP/HDBSCAN once per process; keep it out of the timings
    reduce_and_cluster(np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32),
                       RunConfig(reducer="umap:10:15", clusterer="hdbscan:10"))
    if SAMPLE.exists():
        rows.append(bench("cifar10-llava", pd.read_csv(SAMPLE)["description"].tolist(), "hdbscan:20"))
        print(rows[-1], flush=True)
    else:
        print(f"(skipping the real sample: {SAMPLE} not found)")
    rows.append(bench("synthetic", synthetic_descriptions(args.synthetic), "hdbscan:50"))
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).round(2).to_string(index=False))
    print("embed_throughput_ratio = direct SentenceTransformer.encode seconds (mean of one pass before and one "
          "after) / semclust cold embed seconds (1.0 = no overhead; semclust's pass includes loading the model, "
          "hashing and writing the cache); embed_cached_s = the same texts again, from the study's cache")


if __name__ == "__main__":
    main()
