"""The text route of a run: embeddings -> reduce -> cluster -> keywords -> report.

Three steps, each usable alone (the ``cluster``, ``label`` and ``report`` commands)
and chained by :func:`execute_run`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .cluster import create_clusterer, membership_strength
from .config import RunConfig
from .errors import SemclustError
from .label import ClusterKeywords
from .reduce import create_reducer
from .runs import Run, mark_latest, new_run_id, package_versions, runs_folder

if TYPE_CHECKING:
    from .study import Study

log = logging.getLogger(__name__)

EXEMPLAR_SHARE = 0.10  # zhang-leung §4.3: exemplars come from the 10% nearest the centroid


def reduce_and_cluster(X: np.ndarray, config: RunConfig, reducer=None, clusterer=None):
    """Labels (-1 = outlier), membership strengths and the reduced matrix for ``X``."""
    reducer = reducer if reducer is not None else create_reducer(config.reducer, random_state=config.seed)
    clusterer = clusterer if clusterer is not None else create_clusterer(config.clusterer, random_state=config.seed)
    n_components = getattr(reducer, "n_components", None)
    if isinstance(n_components, int) and n_components >= len(X):
        raise SemclustError(f"{config.reducer}: {n_components} components need more than {len(X)} items")
    reduced = np.asarray(reducer.fit_transform(X), dtype=np.float32)
    labels = np.asarray(clusterer.fit_predict(reduced), dtype=int)
    return labels, membership_strength(clusterer, len(labels)), reduced


def map_coordinates(X: np.ndarray, how: str, seed: int) -> np.ndarray | None:
    """2-D positions for the report's map: UMAP (cosine) or PCA of the embeddings."""
    if how == "none" or len(X) < 4:
        return None
    if how == "pca":
        return np.asarray(create_reducer("pca:2", random_state=seed).fit_transform(X), dtype=np.float32)
    if how == "umap":
        neighbors = min(15, len(X) - 1)
        return np.asarray(create_reducer(f"umap:2:{neighbors}", random_state=seed).fit_transform(X),
                          dtype=np.float32)
    raise SemclustError(f"map must be umap, pca or none, got {how!r}")


def exemplar_flags(reduced: np.ndarray, labels: np.ndarray, share: float = EXEMPLAR_SHARE):
    """Distance of each item to its cluster's centroid, and whether it is among the nearest ``share``."""
    distance = np.full(len(labels), np.nan)
    exemplar = np.zeros(len(labels), dtype=bool)
    for cluster in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == cluster)
        centroid = reduced[members].mean(axis=0)
        d = np.linalg.norm(reduced[members] - centroid, axis=1)
        distance[members] = d
        n_near = max(1, int(np.ceil(share * len(members))))
        exemplar[members[np.argsort(d, kind="stable")[:n_near]]] = True
    return distance, exemplar


def build_assignments(items: pd.DataFrame, ids: pd.Index, labels, probabilities, descriptions: pd.Series,
                      reasons: pd.Series, distance, exemplar) -> pd.DataFrame:
    """One row per input item, in input order; items not clustered keep a missing cluster and a reason."""
    table = items.drop(columns=["status", "error"]).copy()
    clustered = pd.DataFrame({
        "id": ids, "cluster": pd.array(labels, dtype="Int64"), "probability": probabilities,
        "centroid_distance": distance, "exemplar": exemplar,
    })
    table = table.merge(clustered, on="id", how="left")
    table["exemplar"] = table["exemplar"].astype("boolean").fillna(False).astype(bool)
    table["description"] = descriptions.reindex(table["id"]).to_numpy()
    table["note"] = np.where(table["cluster"].isna(), reasons.reindex(table["id"]).to_numpy(), "")
    first = ["id", "image", "cluster", "probability", "description"]
    return table[first + [c for c in table.columns if c not in first]]


def cluster_run(study: Study, config: RunConfig, *, reducer=None, clusterer=None, progress: bool = True) -> Run:
    """Create a run: embed the current descriptions, reduce, cluster, and save the assignments."""
    descriptions = study.descriptions()
    available = descriptions.dropna()
    if len(available) < 3:
        raise SemclustError(f"only {len(available)} items have a description; at least 3 are needed to cluster")
    X = study.embed_texts(available.tolist(), config.embedder, progress)
    log.info("clustering %d items with %s + %s", len(X), config.reducer, config.clusterer)
    labels, probabilities, reduced = reduce_and_cluster(X, config, reducer, clusterer)
    distance, exemplar = exemplar_flags(reduced, labels)
    assignments = build_assignments(study.items(), available.index, labels, probabilities, descriptions,
                                    study.description_failures(), distance, exemplar)
    config_dict = config.to_dict()
    config_dict["source"] = study.description_source().__dict__
    if reducer is not None or clusterer is not None:
        config_dict["custom_estimators"] = repr((reducer, clusterer))
    folder = runs_folder(study.folder) / new_run_id(config_dict)
    run = Run(folder, config_dict, assignments, coords=map_coordinates(X, config.map, config.seed),
              reduced=reduced, metrics=summary_metrics(labels, len(assignments)))
    run.save()
    mark_latest(folder)
    study.store.put_run(run.id, config_dict, config.seed, package_versions(), "clustered")
    _warn_if_degenerate(labels, config)
    return run


def summary_metrics(labels: np.ndarray, n_items: int) -> dict:
    clusters = labels[labels >= 0]
    return {
        "n_items": int(n_items),
        "n_clustered": int(len(labels)),
        "n_clusters": int(len(np.unique(clusters))),
        "outlier_share": float(np.mean(labels < 0)) if len(labels) else 0.0,
    }


def _warn_if_degenerate(labels: np.ndarray, config: RunConfig) -> None:
    n_clusters = len(np.unique(labels[labels >= 0]))
    if n_clusters < 2 or np.mean(labels < 0) > 0.5:
        log.warning(
            "%s found %d clusters and %.0f%% outliers; for small collections try a smaller size, "
            "e.g. --clusterer hdbscan:%d", config.clusterer, n_clusters, 100 * np.mean(labels < 0),
            max(5, len(labels) // 40),
        )


def label_run(run: Run, *, top_k: int | None = None, method: str | None = None,
              extra_stop_words=None) -> Run:
    """Keywords per cluster (outliers included as their own group) -> ``clusters.csv``."""
    top_k = top_k or run.config.get("top_k", 10)
    method = method or run.config.get("keyword_method", "tfidf")
    extra = extra_stop_words if extra_stop_words is not None else run.config.get("extra_stop_words", [])
    rows = run.clustered()
    labels = rows["cluster"].astype(int).to_numpy()
    texts = rows["description"].fillna("").tolist()
    keywords = ClusterKeywords(top_k=top_k, method=method, extra_stop_words=tuple(extra)).fit(texts, labels)
    sizes = pd.Series(labels).value_counts()
    order = sorted(sizes.index, key=lambda c: (c < 0, -sizes[c], c))
    run.clusters = pd.DataFrame({
        "cluster": order,
        "size": [int(sizes[c]) for c in order],
        "keywords": [keywords.keywords_for(c) for c in order],
    })
    run.config.update(top_k=top_k, keyword_method=method, extra_stop_words=list(extra))
    run.save()
    return run


def report_run(run: Run, title: str | None = None, seed: int | None = None):
    """Write ``report.html`` for a labelled run."""
    from .report import write_report

    if run.clusters is None:
        label_run(run)
    return write_report(
        run.folder / "report.html", run.assignments[run.assignments["cluster"].notna()].assign(
            cluster=lambda t: t["cluster"].astype(int)),
        run.clusters, title=title or f"semclust run {run.id}", config=run.config, metrics=run.metrics,
        coords=run.coords, seed=run.config.get("seed", 0) if seed is None else seed,
    )


def execute_run(study: Study, config: RunConfig, *, reducer=None, clusterer=None, progress: bool = True) -> Run:
    run = cluster_run(study, config, reducer=reducer, clusterer=clusterer, progress=progress)
    label_run(run)
    report_run(run)
    return run
