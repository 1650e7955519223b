"""Which merge makes parent themes: linkages of cluster centroids, and the HDBSCAN tree, on planted sets.

Run:  .venv/bin/python benchmarks/hierarchy_methods.py [--seeds 5]

Each set plants P parent themes with C child themes each (docs/hierarchy.md): child centres
scattered around their parent's centre with ``spread``, items around their child's centre
with ``noise``, child sizes unequal (x1 to x4). The true children are given as the clusters
and every method must find the parents; the number of parents is chosen by the silhouette
rule of :mod:`semclust.stages.merge_tree` for every linkage. Printed per set and method: how
often the number of parents was right, and the mean AMI of the parents found (scikit-learn's
adjusted_mutual_info_score against the planted parents).

The HDBSCAN line clusters the items themselves (no clusters given): ``leaf`` selection for
the children, ``eom`` for the parents, each scored by AMI against its planted level.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score

from semclust.stages.merge_tree import merge_once, node_centroids

SETS = [  # parents, children per parent, items per child (base), dim, spread, noise
    (3, 3, 30, 48, 0.5, 0.15), (3, 3, 30, 48, 1.0, 0.3), (4, 5, 20, 48, 1.0, 0.3),
    (6, 3, 15, 96, 1.2, 0.4), (2, 8, 10, 48, 0.8, 0.3), (8, 2, 25, 96, 1.0, 0.3),
    (3, 3, 30, 48, 1.5, 0.5), (4, 4, 20, 48, 1.8, 0.5), (5, 3, 20, 96, 2.0, 0.6),
]


def planted(n_parents, n_children, n_per, dim, spread, noise, seed):
    rng = np.random.default_rng(seed)
    parents = rng.normal(size=(n_parents, dim))
    parents /= np.linalg.norm(parents, axis=1, keepdims=True)
    owner = np.repeat(np.arange(n_parents), n_children)
    centres = parents[owner] + spread * rng.normal(size=(len(owner), dim)) / np.sqrt(dim)
    sizes = n_per * rng.integers(1, 5, size=len(owner))
    child = np.repeat(np.arange(len(owner)), sizes)
    X = centres[child] + noise * rng.normal(size=(len(child), dim)) / np.sqrt(dim)
    return X, child, owner


def by_linkage(centroids, method):
    metric = "euclidean" if method == "ward" else "cosine"
    tree = linkage(centroids, method=method, metric=metric)
    best, best_score = None, -2.0
    for k in range(2, len(centroids)):
        groups = fcluster(tree, k, criterion="maxclust")
        if len(np.unique(groups)) == k:
            score = silhouette_score(centroids, groups, metric="cosine")
            if score > best_score + 1e-12:
                best, best_score = groups, score
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    seeds = range(parser.parse_args().seeds)
    print(f"{'set (P x C, spread, noise)':28} {'method':18} {'right P':>8} {'AMI parents':>12}")
    for spec in SETS:
        p, c, n, dim, spread, noise = spec
        results: dict[str, list] = {}
        for seed in seeds:
            X, child, owner = planted(*spec, seed)
            centroids = node_centroids(X, child, len(owner))
            sizes = np.bincount(child).astype(float)
            found = {"average cosine (ours)": merge_once(centroids, sizes).parent}
            for method in ("ward", "complete", "single"):
                found[f"{method}{'' if method == 'ward' else ' cosine'}"] = by_linkage(centroids, method)
            for name, parent in found.items():
                results.setdefault(name, []).append(
                    (len(np.unique(parent)) == p, adjusted_mutual_info_score(owner, parent)))
            try:
                import hdbscan

                size = max(5, n // 2)
                leaf = hdbscan.HDBSCAN(min_cluster_size=size, cluster_selection_method="leaf").fit_predict(X)
                eom = hdbscan.HDBSCAN(min_cluster_size=size).fit_predict(X)
                results.setdefault("hdbscan eom/leaf", []).append(
                    (len(np.unique(eom[eom >= 0])) == p, adjusted_mutual_info_score(owner[child], eom),
                     adjusted_mutual_info_score(child, leaf)))
            except ImportError:
                pass
        label = f"{p} x {c}, {spread}, {noise}"
        for name, rows in results.items():
            right = np.mean([r[0] for r in rows])
            ami = np.mean([r[1] for r in rows])
            extra = f"  (children AMI {np.mean([r[2] for r in rows]):.3f})" if len(rows[0]) > 2 else ""
            print(f"{label:28} {name:18} {right:8.0%} {ami:12.3f}{extra}")


if __name__ == "__main__":
    main()
