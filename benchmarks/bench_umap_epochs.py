"""Do the parallel neighbour search and 100 UMAP epochs above 10k items keep the clusters?

Run:  nice .venv/bin/python benchmarks/bench_umap_epochs.py [--corpora trec,newsgroups,synth-20000,synth-50000]
          [--cache /work/textsets]

For each corpus, the auto preset's settings (semclust.study.adaptive) clustered three ways:

- ``umap-learn``: today's reducer before this change, ``umap.UMAP`` (seeded: one thread, its own
  default epochs, 500 up to 10k items and 200 above);
- ``parallel 200``: semclust's ``ParallelSearchUMAP`` (neighbour search on every core) with
  umap-learn's epochs, which isolates the search;
- ``defaults``: ``ParallelSearchUMAP`` as semclust now runs it (100 epochs above 10k items).

Prints seconds of the reduction, AMI against the known classes (outliers one group) and AMI
against the ``umap-learn`` labels. Real sets come from benchmarks/real_text_sets.py (MiniLM
vectors of texts cut to 100 words, cached in ``--cache``); ``synth-N`` is
:func:`synthetic_vectors.sphere_mixture` with 30 classes.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")


def corpus(name: str, cache: str):
    if name.startswith("synth-"):
        from synthetic_vectors import sphere_mixture

        n = int(name.split("-")[1])
        return sphere_mixture(n, 30, seed=n)
    from real_text_sets import embedded_text_set

    return embedded_text_set(name, cache)


def label_scores(truth, reference, labels, reference_name: str) -> dict:
    """AMI against the known classes and against a reference labelling, and how many clusters."""
    from sklearn.metrics import adjusted_mutual_info_score

    return {"AMI vs classes": round(adjusted_mutual_info_score(truth, labels), 4),
            f"AMI vs {reference_name}": round(adjusted_mutual_info_score(reference, labels), 4),
            "clusters": len(np.unique(labels[labels >= 0]))}


def variants(n_components: int, n_neighbors: int):
    import umap

    from semclust.stages.reduce.parallel_umap import LARGE_N, ParallelSearchUMAP

    common = dict(n_components=n_components, n_neighbors=n_neighbors, metric="cosine", random_state=0)
    yield "umap-learn", lambda n: umap.UMAP(**common)
    yield "parallel 200", lambda n: ParallelSearchUMAP(n_epochs=500 if n <= LARGE_N else 200, **common)
    yield "defaults", lambda n: ParallelSearchUMAP(**common)


def main() -> None:
    from semclust.stages.cluster import create_clusterer
    from semclust.stages.reduce import umap_args
    from semclust.study.adaptive import auto_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", default="trec,newsgroups,synth-20000,synth-50000")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "semclust" / "textsets"))
    args = parser.parse_args()
    rows = []
    for name in args.corpora.split(","):
        X, y = corpus(name, args.cache)
        settings = auto_settings(len(X))
        reference = None
        for label, make in variants(*umap_args(settings.reducer.split(":", 1)[1])):
            start = time.perf_counter()
            reduced = make(len(X)).fit_transform(X)
            seconds = time.perf_counter() - start
            labels = create_clusterer(settings.clusterer, random_state=0).fit_predict(reduced)
            reference = labels if reference is None else reference
            row = {"corpus": name, "n": len(X), "settings": f"{settings.reducer} + {settings.clusterer}",
                   "variant": label, "reduce s": round(seconds, 1),
                   **label_scores(y, reference, labels, "umap-learn")}
            rows.append(row)
            print(row, flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
