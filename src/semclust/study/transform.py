"""Placing new items into an existing run's clusters (``run.transform(new_df)``).

The new items join the study (ingested, described with the run's describer when they
need it, embedded with the run's embedder, all cached as usual), then go through the
run's saved reducer and clusterer (:mod:`semclust.stages.fitted_model`); nothing is re-fitted.
The result is written beside the run, in ``runs/<id>/transform/<stamp>.csv``/``.parquet``,
with a drift report (``drift.json``) saying how far the new data sit from the run's.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.stages.fitted_model import assign, drift, drift_warning, far_from_run, load_model
from semclust.study.config import RunConfig
from semclust.study.pipeline import drop_echoed_description

if TYPE_CHECKING:
    from semclust.study.runs import Run
    from semclust.study.study_data import StudyData

log = logging.getLogger(__name__)

#: Embedders whose vector of a text depends on the other texts: new items cannot be placed with them.
CORPUS_DEPENDENT_PREFIXES = ("tfidf:",)


def check_transformable(run: Run) -> RunConfig:
    config = RunConfig.from_dict(run.config)
    if config.route == "labels":
        raise SemclustError("label-level runs (route labels) have no single model to place new items with")
    if config.route in ("text", "concat") and config.embedder.startswith(CORPUS_DEPENDENT_PREFIXES):
        raise SemclustError(f"{config.embedder} gives each text a vector that depends on the whole corpus, so "
                            "new items cannot be placed in its space; cluster with a fixed embedder (st:, openai:)")
    return config


def transform_items(study: StudyData, run: Run, new_ids: pd.Index, progress: bool = True) -> pd.DataFrame:
    """Assign the study's items ``new_ids`` to ``run``'s clusters; one row per new item."""
    from semclust.study.routes import route_features

    config = check_transformable(run)
    model = load_model(run.folder)
    ids, X = route_features(study, config, progress)
    position = ids.get_indexer(new_ids)
    placed = position >= 0
    X_new = X[position[placed]]
    items = study.items().set_index("id").loc[list(new_ids)]
    table = pd.DataFrame({"id": list(new_ids), "image": items["image"].to_numpy()})
    table["cluster"] = pd.array([pd.NA] * len(table), dtype="Int64")
    table["probability"] = np.nan
    table["far_from_clusters"] = pd.array([pd.NA] * len(table), dtype="boolean")
    report = {"n_new": 0, "outlier_share": float("nan"), "far_share": float("nan")}
    if placed.any():
        labels, strengths, _ = assign(model, X_new)
        table.loc[placed, "cluster"] = labels
        table.loc[placed, "probability"] = strengths
        table.loc[placed, "far_from_clusters"] = far_from_run(model, X_new)
        report = drift(model, labels, X_new)
    table["fitted"] = pd.array([False if p else pd.NA for p in placed], dtype="boolean")
    source = _source(study)
    if source is not None:
        table["description"] = study.descriptions(source).reindex(new_ids).to_numpy()
        reasons = study.description_failures(source).reindex(new_ids).to_numpy()
        table["note"] = np.where(placed, "", reasons)
    meta = items.drop(columns=[c for c in ("image", "sha256", "status", "error") if c in items.columns])
    meta = meta.rename(columns={c: f"input_{c}" for c in meta.columns if c in table.columns})
    table = drop_echoed_description(pd.concat([table, meta.reset_index(drop=True)], axis=1))
    table.attrs["drift"] = report
    _save(run, table, report)
    warning = drift_warning(report, float((run.metrics or {}).get("outlier_share", 0.0)))
    if warning:
        log.warning(warning)
    return table


def _source(study: StudyData):
    try:
        return study.description_source()
    except SemclustError:
        return None


def _save(run: Run, table: pd.DataFrame, report: dict) -> None:
    folder = run.folder / "transform"
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    table.to_csv(folder / f"{stamp}.csv", index=False)
    table.to_parquet(folder / f"{stamp}.parquet", index=False)
    (folder / f"{stamp}.drift.json").write_text(json.dumps(report, indent=2))
    log.info("assigned %d new items to run %s: %s", len(table), run.id, folder / f"{stamp}.csv")
