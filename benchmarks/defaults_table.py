"""The adaptive defaults (``--preset auto``) against the paper's, BERTopic's and k-means with the true k.

Run:  nice .venv/bin/python benchmarks/defaults_table.py [--sizes 100,300,1000,3000,10000,50000]

Corpora (none of them used to choose the rule in semclust.study.adaptive):

- ``cifar-llava``: the 500 real LLaVA descriptions of ../shared/sample/cifar10-llava embedded
  with the bundled all-MiniLM-L6-v2, 10 classes; random subsamples of 100 and 300 (and all 500).
- ``synth-8`` and ``synth-40``: :func:`synthetic_vectors.sphere_mixture` with 8 and 40 classes
  (at most n/10), uneven sizes, themes of overlapping classes, 384 dimensions.

Scores: AMI against the known classes over *all* items, outliers (-1) counted as one more group,
as BERTopic comparisons do.  ``paper`` = umap:10:15 + hdbscan:50; ``auto`` = semclust's adaptive
rule; ``bertopic`` = ``BERTopic().fit_transform(docs, embeddings)`` with its default UMAP (5
components, 15 neighbours, min_dist 0, cosine) given random_state=0, and its default
HDBSCAN(min_cluster_size=10); ``kmeans-true-k`` = k-means with the true number of classes on the
embeddings themselves.  Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

from synthetic_vectors import sphere_mixture  # noqa: E402

from semclust.stages.cluster import create_clusterer  # noqa: E402
from semclust.stages.reduce import create_reducer  # noqa: E402
from semclust.study.adaptive import ARMINIO, auto_settings  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "sample" / "cifar10-llava" / "posts.csv"


def cifar_corpora(sizes):
    if not SAMPLE.exists():
        print(f"(cifar-llava skipped: {SAMPLE} not found)")
        return
    from semclust.stages.embed import create_text_embedder

    posts = pd.read_csv(SAMPLE)
    vectors = create_text_embedder("st:all-MiniLM-L6-v2", progress=False).embed_texts(posts["description"].tolist())
    labels = pd.factorize(posts["label"])[0]
    rng = np.random.default_rng(0)
    for n in [s for s in sizes if s < len(posts)] + [len(posts)]:
        pick = np.sort(rng.choice(len(posts), n, replace=False))
        yield "cifar-llava", vectors[pick], labels[pick]


def synthetic_corpora(sizes, wanted=("synth-8", "synth-40")):
    for k in (8, 40):
        if f"synth-{k}" not in wanted:
            continue
        for n in sizes:
            yield f"synth-{k}", *sphere_mixture(n, min(k, n // 10), seed=n + k)


def run_spec(X, reducer, clusterer, cache):
    if reducer not in cache:
        cache[reducer] = create_reducer(reducer, random_state=0).fit_transform(X)
    return np.asarray(create_clusterer(clusterer, random_state=0).fit_predict(cache[reducer]))


def bertopic_labels(X):
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False,
                      random_state=0)
    docs = [f"item{i}" for i in range(len(X))]  # the topics' words are not scored here
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(docs, embeddings=X)
    return np.asarray(topics)


def score(X, y):
    from sklearn.cluster import KMeans

    cache: dict = {}
    auto = auto_settings(len(X))
    rows = {}
    timings = {}
    for name, make in (
        ("paper", lambda: run_spec(X, *ARMINIO, cache) if len(X) > 11 else None),
        ("auto", lambda: run_spec(X, auto.reducer, auto.clusterer, cache)),
        ("bertopic", lambda: bertopic_labels(X)),
        ("kmeans-true-k", lambda: KMeans(len(np.unique(y)), n_init=10, random_state=0).fit_predict(X)),
    ):
        start = time.perf_counter()
        try:
            labels = make()
        except Exception as exc:  # the paper's settings fail outright on tiny corpora: that is a result
            labels, rows[name + "_error"] = None, str(exc)[:60]
        timings[name] = time.perf_counter() - start
        rows[name] = np.nan if labels is None else adjusted_mutual_info_score(y, labels)
        if labels is not None:
            rows[name + "_k"] = len(np.unique(labels[labels >= 0]))
    return rows, auto, timings


def markdown(frame: pd.DataFrame) -> str:
    cells = frame.map(lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,300,1000,3000,10000,50000")
    parser.add_argument("--corpora", default="cifar-llava,synth-8,synth-40")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = args.corpora.split(",")
    table = []
    corpora = [*(cifar_corpora(sizes) if "cifar-llava" in wanted else []), *synthetic_corpora(sizes, wanted)]
    for corpus, X, y in corpora:
        rows, auto, timings = score(X, y)
        table.append({"corpus": corpus, "n": len(X), "classes": len(np.unique(y)),
                      "auto settings": f"{auto.reducer} + {auto.clusterer}",
                      **{k: rows.get(k) for k in ("paper", "auto", "bertopic", "kmeans-true-k")},
                      "clusters paper/auto/bertopic": "/".join(str(rows.get(f"{m}_k", "-"))
                                                              for m in ("paper", "auto", "bertopic")),
                      "seconds auto": round(timings["auto"], 1)})
        print(pd.DataFrame(table[-1:]).to_string(index=False, header=len(table) == 1), flush=True)
    frame = pd.DataFrame(table)
    print()
    print(markdown(frame))
    wins = (frame["auto"] >= frame["paper"].fillna(-1)).mean()
    print(f"\nauto >= paper on {wins:.0%} of corpora; auto >= bertopic on "
          f"{(frame['auto'] >= frame['bertopic']).mean():.0%}")


if __name__ == "__main__":
    main()
