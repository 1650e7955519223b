"""Embedding throughput on this CPU: sentence-transformers directly, semclust's ``st:``, and ``onnx:`` (int8).

Run:  nice .venv/bin/python benchmarks/bench_embed.py [--repeats 3] [--texts 2000]

Texts: the 500 real LLaVA descriptions of ../shared/sample/cifar10-llava, repeated to
``--texts`` with a row number appended (so none is a cache hit).  Each repeat times the three
in an order that rotates between repeats, in one process, so machine load falls on all of
them alike; the figures are medians.  The int8 model is exported once before timing.
Quality: AMI (max form) against the CIFAR-10 labels of k-means (k = 10, ten restarts each, mean
over 50 seeds: single restarts over 10 seeds differed by more than the int8 effect) on the 500
vectors of each backend, and the mean cosine between int8 and fp32 vectors of the same text.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SEMCLUST_QUIET", "1")

from semclust.stages.embed import create_text_embedder  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "sample" / "cifar10-llava" / "posts.csv"


def kmeans_ami(vectors: np.ndarray, labels) -> float:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score

    scores = [adjusted_mutual_info_score(labels, KMeans(10, n_init=10, random_state=s).fit_predict(vectors),
                                         average_method="max")
              for s in range(50)]
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    posts = pd.read_csv(SAMPLE)
    base = posts["description"].tolist()
    texts = [f"{base[i % len(base)]} ({i})" for i in range(args.texts)]
    st = create_text_embedder("st:all-MiniLM-L6-v2", progress=False)
    onnx = create_text_embedder("onnx:all-MiniLM-L6-v2", progress=False)
    direct = st._load()
    onnx.embed_texts(texts[:8])  # export + load once, outside the timing
    runners = {
        "SentenceTransformer.encode": lambda: direct.encode(texts, batch_size=64, convert_to_numpy=True,
                                                            normalize_embeddings=True, show_progress_bar=False),
        "semclust st:": lambda: st.embed_texts(texts),
        "semclust onnx: (int8)": lambda: onnx.embed_texts(texts),
    }
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for repeat in range(args.repeats):
        for name in names[repeat % 3:] + names[:repeat % 3]:
            start = time.perf_counter()
            runners[name]()
            seconds[name].append(time.perf_counter() - start)
    median = {name: statistics.median(v) for name, v in seconds.items()}
    reference = median["SentenceTransformer.encode"]
    print(f"{args.texts} texts, {args.repeats} repeats, order rotated; cpu threads: {os.cpu_count()}")
    for name in names:
        print(f"  {name:28s} {args.texts / median[name]:8.1f} texts/s   "
              f"{reference / median[name]:.2f}x of encode   (runs: {', '.join(f'{s:.1f}' for s in seconds[name])} s)")
    fp32, int8 = st.embed_texts(base), onnx.embed_texts(base)
    cosine = float(np.mean(np.sum(fp32 * int8, axis=1)))
    a32, a8 = kmeans_ami(fp32, posts["label"]), kmeans_ami(int8, posts["label"])
    print(f"quality on the 500 CIFAR descriptions: AMI k-means fp32 {a32:.3f}, int8 {a8:.3f} "
          f"(difference {a8 - a32:+.3f}); mean cosine int8 vs fp32 {cosine:.4f}")


if __name__ == "__main__":
    main()
