"""The text route of a run: embeddings -> reduce -> cluster -> keywords -> report.

Three steps, each usable alone (the ``cluster``, ``label`` and ``report`` commands)
and chained by :func:`execute_run`.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.stages.cluster import create_clusterer, membership_strength
from semclust.stages.fitted_model import (
    AUTO_FIT_ABOVE,
    FULL_FIT_CHECK_MAX,
    fit_model,
    renumber,
    resolve_fit_sample,
    save_model,
    size_order,
)
from semclust.stages.label import ClusterKeywords
from semclust.stages.map2d import map_coordinates
from semclust.stages.reduce import create_reducer
from semclust.study.adaptive import settings_for
from semclust.study.config import RunConfig
from semclust.study.runs import Run, mark_latest, new_run_folder, package_versions

if TYPE_CHECKING:
    from semclust.study.study_data import StudyData

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("cluster", "probability", "description", "centroid_distance", "exemplar", "fitted", "note")
TRUNCATED_NOTE = "description cut off at the token limit (finish_reason 'length')"
EXEMPLAR_SHARE = 0.10  # zhang-leung §4.3: exemplars come from the 10% nearest the centroid


def adapt_to_size(config: RunConfig, n: int) -> RunConfig:
    """``config`` with the reducer and clusterer its preset picks for ``n`` items filled in (logged)."""
    if config.reducer is not None and config.clusterer is not None:
        return config
    chosen = settings_for(n, config.preset, config.reducer, config.clusterer)
    log.info("settings for %d items (preset %s): %s + %s; %s", n, config.preset, chosen.reducer,
             chosen.clusterer, chosen.reason)
    return dataclasses.replace(config, reducer=chosen.reducer, clusterer=chosen.clusterer)


def reduce_and_cluster(X: np.ndarray, config: RunConfig, reducer=None, clusterer=None):
    """Labels (-1 = outlier), membership strengths and the reduced matrix for ``X``."""
    config = adapt_to_size(config, len(X))
    reducer = reducer if reducer is not None else create_reducer(config.reducer, random_state=config.seed, device=config.device)
    clusterer = clusterer if clusterer is not None else create_clusterer(config.clusterer, random_state=config.seed, device=config.device)
    n_components = getattr(reducer, "n_components", None)
    if isinstance(n_components, int) and n_components >= len(X):
        raise SemclustError(f"{config.reducer}: {n_components} components need more than {len(X)} items")
    reduced = np.asarray(reducer.fit_transform(X), dtype=np.float32)
    labels = np.asarray(clusterer.fit_predict(reduced), dtype=int)
    return labels, membership_strength(clusterer, len(labels)), reduced


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Number clusters 0, 1, ... from the largest down (ties by old label); -1 stays -1."""
    return renumber(labels, size_order(labels))


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
                      reasons: pd.Series, distance, exemplar, fitted=None) -> pd.DataFrame:
    """One row per input item, in input order; items not clustered keep a missing cluster and a reason.

    ``fitted`` is True where the item was in the reducer/clusterer fit, False where it was
    assigned afterwards (``fit_sample``), missing where it was not clustered.

    An input column named like an output column (``description`` is common in social-media
    exports) is kept as ``input_<name>`` instead of being overwritten.
    """
    table = items.drop(columns=["status", "error"]).copy()
    table = table.rename(columns={c: f"input_{c}" for c in OUTPUT_COLUMNS if c in table.columns})
    clustered = pd.DataFrame({
        "id": ids, "cluster": pd.array(labels, dtype="Int64"), "probability": probabilities,
        "centroid_distance": distance, "exemplar": exemplar,
        "fitted": pd.array(np.ones(len(ids), dtype=bool) if fitted is None else fitted, dtype="boolean"),
    })
    table = table.merge(clustered, on="id", how="left")
    table["exemplar"] = table["exemplar"].astype("boolean").fillna(False).astype(bool)
    table["description"] = descriptions.reindex(table["id"]).to_numpy()
    table = drop_echoed_description(table)
    table["note"] = np.where(table["cluster"].isna(), reasons.reindex(table["id"]).to_numpy(), "")
    first = ["id", "image", "cluster", "probability", "description"]
    return table[first + [c for c in table.columns if c not in first]]


def drop_echoed_description(table: pd.DataFrame) -> pd.DataFrame:
    """Drop ``input_description`` where it only repeats ``description`` (``--describer
    column:description``): the same text twice in every output says nothing. Kept where any
    described item's text differs (the descriptions came from a model)."""
    if "input_description" not in table.columns or "description" not in table.columns:
        return table
    described = table["description"].notna()
    same = table.loc[described, "input_description"].astype(str) == table.loc[described, "description"].astype(str)
    return table.drop(columns="input_description") if same.all() else table


def _label_level(study: StudyData, config: RunConfig, progress: bool):
    """zhang-leung §3.1: cluster text and image separately, then one group per label pair."""
    from semclust.study.routes import (
        combine_labels,
        image_features,
        modality_agreement,
        text_features,
    )

    t_ids, txt = text_features(study, config, progress)
    i_ids, img = image_features(study, config, progress)
    common = t_ids.intersection(i_ids, sort=False)
    text_labels, _, t_reduced = reduce_and_cluster(txt[t_ids.get_indexer(common)], config)
    image_labels, _, i_reduced = reduce_and_cluster(img[i_ids.get_indexer(common)], config)
    labels, pruned_share = combine_labels(text_labels, image_labels, config.keep_groups)
    extra = modality_agreement(text_labels, image_labels) | {"pruned_share": pruned_share}
    return common, np.hstack([t_reduced, i_reduced]), labels, np.ones(len(labels)), extra


def cluster_run(study: StudyData, config: RunConfig, *, reducer=None, clusterer=None, progress: bool = True) -> Run:
    """Create a run: embed along the configured route, reduce, cluster, and save the assignments."""
    from semclust.study.routes import route_features
    from semclust.study.spec_check import check_run_config

    check_run_config(config)  # every name before the first embedding

    model, fitted = None, None
    if config.route == "labels":
        ids, reduced, labels, probabilities, extra = _label_level(study, config, progress)
        X = reduced
    else:
        ids, X = route_features(study, config, progress)
        if len(ids) < 3:
            raise SemclustError(f"only {len(ids)} items can be embedded on the {config.route} route; at least 3 are needed")
        # settings follow the number of items fitted on: a 100k sample of 1M is clustered like 100k
        config = adapt_to_size(config, resolve_fit_sample(len(X), config.fit_sample) or len(X))
        log.info("clustering %d items with %s + %s", len(X), config.reducer, config.clusterer)
        fit = _fit(X, config, reducer, clusterer)
        labels, probabilities, reduced, fitted, model = fit.labels, fit.probabilities, fit.reduced, fit.fitted, fit.model
        extra = fit.metrics
    distance, exemplar = exemplar_flags(reduced, labels)
    source = _description_source(study)
    descriptions = study.descriptions(source) if source else pd.Series(dtype="string")
    reasons = unclustered_reasons(study, source, config)
    truncated = study.truncated_descriptions(source) if source is not None else pd.Index([])
    assignments = build_assignments(study.items(), ids, labels, probabilities, descriptions, reasons,
                                    distance, exemplar, fitted)
    assignments.loc[assignments["id"].isin(truncated) & assignments["cluster"].notna(), "note"] = TRUNCATED_NOTE
    config_dict = config.to_dict() | used_description(config, source)
    config_dict["source"] = source.__dict__ if source else None
    if reducer is not None or clusterer is not None:
        config_dict["custom_estimators"] = repr((reducer, clusterer))
    folder = new_run_folder(study.folder, config_dict)
    metrics = summary_metrics(labels, len(assignments)) | extra
    coords = map_coordinates(reduced, config.map, config.seed, progress, graph=neighbour_graph(model, fitted),
                             fitted=fitted)
    run = Run(folder, config_dict, assignments, coords=coords, reduced=reduced, metrics=metrics)
    run.save()
    if model is not None:
        save_model(model, folder)
    if hasattr(getattr(model, "clusterer", None), "history_"):  # iterative k-means: Casas Fig. 6
        from semclust.stages.cluster_iterkmeans import save_history

        save_history(model.clusterer.history_, folder)
    mark_latest(folder)
    study.store.put_run(run.id, config_dict, config.seed, package_versions(), "clustered")
    _warn_if_degenerate(labels, config)
    return run


def neighbour_graph(model, fitted):
    """The reducer's fuzzy kNN graph (UMAP's ``graph_``) over the fitted items, for the map to reuse:
    one neighbour search per run. None for reducers without one (PCA, none, cuML's)."""
    import scipy.sparse

    graph = getattr(getattr(model, "reducer", None), "graph_", None)
    if fitted is None or not scipy.sparse.issparse(graph) or graph.shape[0] != int(np.sum(fitted)):
        return None
    return graph


def _fit(X: np.ndarray, config: RunConfig, reducer=None, clusterer=None):
    """Fit on everything or on ``config.fit_sample`` items; with a sample on a collection small
    enough, a full fit runs beside it and the agreement of the two is reported (AMI)."""
    def make():
        return (reducer if reducer is not None else create_reducer(config.reducer, random_state=config.seed, device=config.device),
                clusterer if clusterer is not None else create_clusterer(config.clusterer, random_state=config.seed, device=config.device))

    fit = fit_model(X, *make(), fit_sample=config.fit_sample, seed=config.seed)
    sampled = fit.metrics["n_assigned"] > 0
    if sampled and len(X) <= FULL_FIT_CHECK_MAX and reducer is None and clusterer is None:
        from sklearn.metrics import adjusted_mutual_info_score

        full = fit_model(X, *make(), fit_sample=0, seed=config.seed)
        fit.metrics["fit_sample_ami_vs_full_fit"] = float(adjusted_mutual_info_score(full.labels, fit.labels))
    elif sampled:
        fit.metrics["fit_sample_ami_vs_full_fit"] = None  # a full fit is what the sample avoids
    if config.fit_sample is None and len(X) > AUTO_FIT_ABOVE:
        log.info("more than %d items: fitted on a sample of %d (set fit_sample=0 to fit on everything)",
                 AUTO_FIT_ABOVE, fit.metrics["n_fitted"])
    return fit


def used_description(config: RunConfig, source) -> dict:
    """The describer and prompt the run's descriptions really came from, for config.json.

    A config that names another describer or prompt is an error rather than a record of
    something that did not happen.
    """
    from semclust.stages.describe.prompts import PRESETS, resolve_prompt
    from semclust.study.config import ConfigError

    if source is None:
        return {"describer": "none", "prompt": None}
    spec = source.describer if source.column is not None else f"{source.describer}:{source.model}"
    if config.describer not in (None, "none", spec, source.describer):
        raise ConfigError(
            f"the study's descriptions come from {spec!r}, but the config asks for {config.describer!r}; "
            f"describe with it first (study.describe({config.describer!r}) or `semclust describe`), "
            "or leave describer unset to use the study's current descriptions")
    if source.column is not None:
        return {"describer": spec, "prompt": None}
    if config.prompt is not None and config.describer != "none" and resolve_prompt(config.prompt) != source.prompt:
        raise ConfigError(f"the study's descriptions were made with another prompt than {config.prompt!r}; "
                          "describe with it first, or leave prompt unset")
    names = [name for name, text in PRESETS.items() if text == source.prompt]
    return {"describer": spec, "prompt": names[0] if names else source.prompt}


def unclustered_reasons(study: StudyData, source, config: RunConfig) -> pd.Series:
    """Why each item would not be clustered, by id: its own reason on every route.

    An unreadable image keeps its ingest error and a failed or refused description its
    describer's reason; "not embedded on the ROUTE route" is only the last resort.
    """
    uses_descriptions = config.route in ("text", "concat", "labels") or (
        config.route == "clip" and config.text_column is None)
    if source is not None and uses_descriptions:
        return study.description_failures(source)
    items = study.items().set_index("id")
    reasons = pd.Series(f"not embedded on the {config.route} route", index=items.index, dtype="string")
    unreadable = items["status"] != "ok"
    reasons[unreadable] = "unreadable image: " + items.loc[unreadable, "error"].fillna("")
    if config.route == "clip" and config.text_column in items.columns:
        texts = items[config.text_column].astype("string").str.strip()
        reasons[~unreadable & (texts.isna() | (texts == "")).to_numpy()] = f"no text in column {config.text_column!r}"
    return reasons


def _description_source(study: StudyData):
    """The study's description source, or None on image-only studies that have none."""
    try:
        return study.description_source()
    except SemclustError:
        return None


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
    texts = keyword_texts(rows, run.config.get("text_column")).tolist()
    keywords = ClusterKeywords(top_k=top_k, method=method, extra_stop_words=tuple(extra)).fit(texts, labels)
    sizes = pd.Series(labels).value_counts()
    order = sorted(sizes.index, key=lambda c: (c < 0, -sizes[c], c))
    run.clusters = pd.DataFrame({
        "cluster": order,
        "size": [int(sizes[c]) for c in order],
        "keywords": [keywords.keywords_for(c) for c in order],
    })
    if "codebook" in run.config:  # a codebook-seeded run: every code, with its name and threshold
        from semclust.study.seeded import code_cluster_columns

        run.clusters = code_cluster_columns(run.clusters, run.config["codebook"], run.assignments)
    run.config.update(top_k=top_k, keyword_method=method, extra_stop_words=list(extra))
    run.save_labels()
    return run


def keyword_texts(rows: pd.DataFrame, text_column: str | None) -> pd.Series:
    """What keywords are drawn from: the description, else the post text (image-route runs)."""
    texts = rows["description"].astype("string")
    fallback = text_column or ("text" if "text" in rows.columns else None)
    if fallback and fallback in rows.columns:
        texts = texts.fillna(rows[fallback].astype("string"))
    return texts.fillna("")


def report_run(run: Run, title: str | None = None, seed: int | None = None):
    """Write ``report.html`` for a labelled run."""
    from semclust.stages.report import write_report

    if run.clusters is None:
        label_run(run)
    codes = None
    if "codebook" in run.config:
        from semclust.study.seeded import codes_report

        codes = codes_report(run)
    return write_report(
        run.folder / "report.html", run.assignments[run.assignments["cluster"].notna()].assign(
            cluster=lambda t: t["cluster"].astype(int)),
        run.clusters, title=title or f"semclust run {run.id}", config=run.config, metrics=run.metrics,
        coords=run.coords, seed=run.config.get("seed", 0) if seed is None else seed,
        not_clustered=run.assignments[run.assignments["cluster"].isna()], codes=codes,
        hierarchy=_hierarchy_table(run),
    )


def _hierarchy_table(run: Run) -> pd.DataFrame | None:
    """The run's tree of themes when it has one (imported here: the hierarchy uses this module)."""
    from semclust.study.hierarchy import load_hierarchy

    return load_hierarchy(run)


def execute_run(study: StudyData, config: RunConfig, *, reducer=None, clusterer=None, progress: bool = True) -> Run:
    run = cluster_run(study, config, reducer=reducer, clusterer=clusterer, progress=progress)
    label_run(run)
    report_run(run)
    return run
