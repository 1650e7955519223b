"""A run's tree of themes: ``hierarchy.csv``, the ``parent`` column of ``clusters.csv``, ``theme``.

:func:`build_hierarchy` merges the run's clusters into parent themes
(:mod:`semclust.stages.merge_tree`) in the run's own embedding space (the vectors its route
clustered, before reduction; the reduced space only for label-level runs, which have no
single one), labels every parent with the run's keyword method over the merged members,
and writes into the run folder:

- ``hierarchy.csv``: ``level,node,parent,size,keywords,name``; level 0 are the clusters
  (``node`` = cluster number), level 1 their parents, ...; ``parent`` is a node of the next
  level up, empty at the top. ``name`` is filled by ``semclust name``.
- ``clusters.csv`` gains ``parent`` (the level-1 node; empty for the outliers).
- ``assignments`` gain ``theme``: each item's node at ``assign_level`` (0 = its cluster).
- ``hierarchy.json``: how the tree was made (method, silhouette per level, assign level).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.stages.keywords_format import parse_keywords, render_keywords
from semclust.stages.label import ClusterKeywords
from semclust.stages.merge_tree import LINKAGE, METRIC, WEAK_SILHOUETTE, merge_levels
from semclust.study.pipeline import keyword_texts
from semclust.study.runs import Run, write_atomically, write_text_atomically

log = logging.getLogger(__name__)

HIERARCHY_FILE = "hierarchy.csv"
HIERARCHY_COLUMNS = ("level", "node", "parent", "size", "keywords", "name")
LEVEL_CHOICES = (2, 3)


def build_hierarchy(study, run: Run, levels: int = 2, assign_level: int = 0) -> pd.DataFrame:
    """Write the run's tree of ``levels`` levels (clusters included) and return ``hierarchy.csv``."""
    if levels not in LEVEL_CHOICES:
        raise SemclustError(f"--levels must be 2 or 3 (clusters plus 1 or 2 levels of themes), got {levels}")
    if not 0 <= assign_level < levels:
        raise SemclustError(f"--assign-level must be between 0 and {levels - 1} for {levels} levels, "
                            f"got {assign_level}")
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no clusters.csv: run `semclust label` first")
    rows = run.clustered()
    clustered = rows[rows["cluster"].astype(int) >= 0]
    clusters = np.sort(clustered["cluster"].astype(int).unique())
    if len(clusters) < 3:
        raise SemclustError(f"run {run.id} has {len(clusters)} clusters; parent themes need at least 3")
    X, space = _vectors(study, run, clustered["id"])
    index = np.searchsorted(clusters, clustered["cluster"].astype(int).to_numpy())
    merged = merge_levels(X, index, levels)
    node_of_item, current = [clusters[index]], index  # level 0 keeps the run's cluster numbers
    for level in merged:
        current = level.parent[current]
        node_of_item.append(current)
    parents = [level.parent for level in merged]
    table = _table(run, clustered, clusters, node_of_item, parents)
    _write(run, clustered, table, node_of_item, clusters, assign_level, merged, space)
    for depth, level in enumerate(merged, start=1):
        if level.silhouette < WEAK_SILHOUETTE:
            log.warning("level %d: the nodes of level %d fall into parent themes only weakly "
                        "(silhouette %.2f < %.2f); read this level with care", depth, depth - 1,
                        level.silhouette, WEAK_SILHOUETTE)
    return table


def _vectors(study, run: Run, ids: pd.Series) -> tuple[np.ndarray, str]:
    """The clustered items' vectors in the run's embedding space, row for row with ``ids``."""
    from semclust.study.config import RunConfig
    from semclust.study.routes import route_features

    config = RunConfig.from_dict(run.config)
    if config.route == "labels":
        rows = run.clustered()
        where = pd.Index(rows["id"].astype(str)).get_indexer(ids.astype(str))
        return np.asarray(run.reduced)[where], "reduced"
    known, X = route_features(study, config, False)
    where = pd.Index(known.astype(str)).get_indexer(ids.astype(str))
    if (where < 0).any():
        raise SemclustError(f"{int((where < 0).sum())} clustered items of run {run.id} have no vector "
                            f"under {config.embedder}; embed them first")
    return np.asarray(X)[where], "embedding"


def _table(run: Run, clustered: pd.DataFrame, clusters: np.ndarray, node_of_item: list[np.ndarray],
           parents: list[np.ndarray]) -> pd.DataFrame:
    """One row per node of every level, clusters first, with the keywords of its members."""
    known = {int(c): k for c, k in zip(run.clusters["cluster"], run.clusters["keywords"], strict=True)}
    texts = keyword_texts(clustered, run.config.get("text_column")).tolist()
    parts = []
    for level, nodes in enumerate(node_of_item):
        ids = clusters if level == 0 else np.arange(int(nodes.max()) + 1)
        if level == 0:
            keywords = [known.get(int(c), []) for c in ids]
        else:
            labeller = ClusterKeywords(top_k=run.config.get("top_k", 10),
                                       method=run.config.get("keyword_method", "tfidf"),
                                       extra_stop_words=tuple(run.config.get("extra_stop_words", []))).fit(texts, nodes)
            keywords = [labeller.keywords_for(int(n)) for n in ids]
        up = parents[level] if level < len(parents) else None
        parts.append(pd.DataFrame({
            "level": level, "node": ids,
            "parent": pd.array([None] * len(ids) if up is None else up, dtype="Int64"),
            "size": [int((nodes == n).sum()) for n in ids],
            "keywords": [render_keywords(k) for k in keywords], "name": "",
        }))
    return pd.concat(parts, ignore_index=True)[list(HIERARCHY_COLUMNS)]


def _write(run: Run, clustered: pd.DataFrame, table: pd.DataFrame, node_of_item: list[np.ndarray],
           clusters: np.ndarray, assign_level: int, merged, space: str) -> None:
    parent_of = dict(zip(clusters.tolist(), merged[0].parent.tolist(), strict=True))
    run.clusters["parent"] = pd.array([parent_of.get(int(c)) for c in run.clusters["cluster"]], dtype="Int64")
    theme = pd.Series(node_of_item[assign_level], index=clustered.index)
    run.assignments["theme"] = theme.reindex(run.assignments.index).astype("Int64")
    info = {"method": f"{LINKAGE} linkage of cluster centroids, {METRIC} distance",
            "space": space, "levels": len(node_of_item), "assign_level": assign_level,
            "parents_per_level": [int(level.parent.max()) + 1 for level in merged],
            "silhouette_per_level": [round(level.silhouette, 4) for level in merged]}
    write_atomically(run.folder / HIERARCHY_FILE, lambda p: table.to_csv(p, index=False))
    write_text_atomically(run.folder / "hierarchy.json", json.dumps(info, indent=2))
    run.save()
    log.info("run %s: %s clusters -> %s", run.id, len(clusters), " -> ".join(map(str, info["parents_per_level"])))


def load_hierarchy(run: Run) -> pd.DataFrame | None:
    """The run's ``hierarchy.csv`` with keywords parsed, or None when it has none."""
    path = run.folder / HIERARCHY_FILE
    if not path.exists():
        return None
    table = pd.read_csv(path, keep_default_na=False, dtype={"name": str, "keywords": str})
    table["parent"] = pd.to_numeric(table["parent"], errors="coerce").astype("Int64")
    table["keywords"] = [parse_keywords(k) for k in table["keywords"]]
    return table


def assign_level_of(run: Run) -> int | None:
    """The level the run's ``theme`` column holds, from ``hierarchy.json`` (None without a tree)."""
    path = run.folder / "hierarchy.json"
    return int(json.loads(path.read_text())["assign_level"]) if path.exists() else None


def save_hierarchy(run: Run, table: pd.DataFrame) -> None:
    """Write ``table`` (keywords as pairs or text) back as the run's ``hierarchy.csv``."""
    out = table.copy()
    out["keywords"] = [k if isinstance(k, str) else render_keywords(k) for k in out["keywords"]]
    write_atomically(run.folder / HIERARCHY_FILE, lambda p: out[list(HIERARCHY_COLUMNS)].to_csv(p, index=False))
