"""Assigning the items outside a fit sample: UMAP transform + approximate_predict, or a neighbour vote?

Run:  nice .venv/bin/python benchmarks/bench_assign_by_neighbours.py [--corpora synth-150000,newsgroups]
          [--fit 100000,8000] [--cache ~/.cache/semclust/textsets]

At 1M items semclust fits on 100k and assigns 900k; the assignment (``fitted_model.assign``:
UMAP ``transform``, then hdbscan's ``approximate_predict``) was 695 s of a 957 s run
(docs/scale.md). This measures the alternative the docs name as the next step, without changing
semclust: each unfitted item takes the label most of its 15 nearest fitted items carry
(distance-weighted, outliers a label like any other), found by the reducer's own search index,
the query ``transform`` already makes. Printed per corpus: seconds of each way, AMI of the
assigned items against the known classes, and AMI between the two ways.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore")

NEIGHBOURS = 15


def vote(index, fitted_labels: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The distance-weighted majority label of each row's fitted neighbours (-1 counts as a label)."""
    neighbours, distances = index.query(X, k=NEIGHBOURS)
    weights = 1.0 / (distances + 1e-6)
    labels = fitted_labels[neighbours] + 1  # 0 = outlier, so bincount can take them
    n_labels = int(fitted_labels.max()) + 2
    scores = np.zeros((len(X), n_labels))
    np.add.at(scores, (np.repeat(np.arange(len(X)), NEIGHBOURS), labels.ravel()), weights.ravel())
    return scores.argmax(axis=1) - 1


def main() -> None:
    from bench_umap_epochs import corpus
    from sklearn.metrics import adjusted_mutual_info_score

    from semclust.stages.cluster import create_clusterer
    from semclust.stages.fitted_model import assign, fit_model
    from semclust.stages.reduce import create_reducer
    from semclust.study.adaptive import auto_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpora", default="synth-150000,newsgroups")
    parser.add_argument("--fit", default="100000,8000", help="fit-sample size per corpus")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "semclust" / "textsets"))
    args = parser.parse_args()
    for name, size in zip(args.corpora.split(","), map(int, args.fit.split(",")), strict=True):
        X, y = corpus(name, args.cache)
        X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
        settings = auto_settings(size)
        fit = fit_model(X, create_reducer(settings.reducer, 0), create_clusterer(settings.clusterer, 0),
                        fit_sample=size, seed=0)
        rest = ~fit.fitted
        start = time.perf_counter()  # again, timed alone (hdbscan's prediction data already built)
        assign(fit.model, X[rest])
        seconds_assign = time.perf_counter() - start
        start = time.perf_counter()
        voted = vote(fit.model.reducer._knn_search_index, fit.labels[fit.fitted], X[rest])
        seconds_vote = time.perf_counter() - start
        print({"corpus": name, "n": len(X), "fit on": size, "settings": f"{settings.reducer} + {settings.clusterer}",
               "transform + approximate_predict s": round(seconds_assign, 1), "vote s": round(seconds_vote, 1),
               "AMI assigned, transform": round(adjusted_mutual_info_score(y[rest], fit.labels[rest]), 4),
               "AMI assigned, vote": round(adjusted_mutual_info_score(y[rest], voted), 4),
               "AMI vote vs transform": round(adjusted_mutual_info_score(fit.labels[rest], voted), 4),
               "outliers transform / vote": (round(float(np.mean(fit.labels[rest] < 0)), 3),
                                             round(float(np.mean(voted < 0)), 3))}, flush=True)


if __name__ == "__main__":
    main()
