"""Parent themes: clusters merged by average-linkage agglomeration of their centroids on cosine.

Why this and not the alternatives (docs/hierarchy.md has the long form):

- Centroids, not items: a run's clusters are what the researcher reads, and every run has
  them (k-means and refined runs have no HDBSCAN condensed tree, and a refined run's
  clusters are no node of any tree).
- Cosine, because it is the metric the text embedder is trained for; each centroid is the
  mean of the unit-length member vectors, made unit length again.
- Average linkage (UPGMA), because it is defined for any dissimilarity (Ward assumes squared
  Euclidean distances and spherical within-group variance) and does not chain like single
  linkage.

The number of parents is chosen from the data: every cut of the dendrogram into 2 ... m-1
groups (m nodes) is scored by the silhouette of the node centroids (cosine), and the best
wins, fewer parents on a tie. The silhouette is returned so a weak structure (below 0.25,
Kaufman and Rousseeuw's "no substantial structure") can be reported, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

from semclust.core.errors import SemclustError

LINKAGE = "average"
METRIC = "cosine"
WEAK_SILHOUETTE = 0.25


@dataclass(frozen=True)
class MergeLevel:
    """One level of parents: ``parent[i]`` is the parent (0 = largest) of the level below's node ``i``."""

    parent: np.ndarray
    silhouette: float
    scores: dict[int, float]


def node_centroids(X: np.ndarray, labels: np.ndarray, n_nodes: int) -> np.ndarray:
    """Unit-length mean of the unit-length member vectors of each node ``0 .. n_nodes-1``."""
    unit = normalize(np.asarray(X, dtype=np.float64))
    sums = np.zeros((n_nodes, unit.shape[1]))
    np.add.at(sums, labels, unit)
    return normalize(sums)


def merge_once(centroids: np.ndarray, sizes: np.ndarray) -> MergeLevel:
    """Merge ``m >= 3`` nodes into the number of parents whose centroid silhouette is highest."""
    m = len(centroids)
    if m < 3:
        raise SemclustError(f"merging into parent themes needs at least 3 clusters, found {m}")
    tree = linkage(centroids, method=LINKAGE, metric=METRIC)
    scores, cuts = {}, {}
    for k in range(2, m):
        groups = fcluster(tree, k, criterion="maxclust")
        if len(np.unique(groups)) != k:  # tied merge heights: this k is no cut of the tree
            continue
        cuts[k] = groups
        scores[k] = float(silhouette_score(centroids, groups, metric=METRIC))
    if not scores:
        raise SemclustError(f"the {m} cluster centroids are all equal: there are no parent themes to find")
    best = max(scores, key=lambda k: (round(scores[k], 12), -k))
    return MergeLevel(_by_size(cuts[best] - 1, sizes), scores[best], scores)


def _by_size(groups: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Parents numbered 0, 1, ... from the most items down (ties by their first child)."""
    totals = np.bincount(groups, weights=sizes)
    first = np.array([np.flatnonzero(groups == g)[0] for g in range(len(totals))])
    order = sorted(range(len(totals)), key=lambda g: (-totals[g], first[g]))
    rank = np.empty(len(totals), dtype=int)
    rank[order] = np.arange(len(totals))
    return rank[groups]


def merge_levels(X: np.ndarray, labels: np.ndarray, n_levels: int) -> list[MergeLevel]:
    """Levels 1 .. ``n_levels``-1 above the clusters ``labels`` (0 .. m-1, one per row of ``X``).

    Each level's centroids come from the items (not from the children's centroids), so a
    parent of many items weighs its members, not its children, equally.
    """
    if n_levels < 2:
        raise SemclustError(f"a hierarchy has at least 2 levels (clusters and their parents), got {n_levels}")
    levels, node_of_item = [], np.asarray(labels, dtype=int)
    for level in range(1, n_levels):
        n_nodes = int(node_of_item.max()) + 1
        if level > 1 and n_nodes < 3:
            raise SemclustError(f"level {level} needs at least 3 themes at level {level - 1}, "
                                f"found {n_nodes}: use fewer levels")
        sizes = np.bincount(node_of_item, minlength=n_nodes).astype(float)
        merged = merge_once(node_centroids(X, node_of_item, n_nodes), sizes)
        levels.append(merged)
        node_of_item = merged.parent[node_of_item]
    return levels
