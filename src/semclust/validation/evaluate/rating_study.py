"""``semclust evaluate --ratings FILE``: a rating study's export, scored against a run.

Reads the export (one row per image and coder) and its JSON sidecar (the scales and the
group attribute, written by ``semclust annotate export``), takes each image's cluster
from the run (the sample's own column only for images the run did not cluster), and
returns the evaluation section ``ratings`` with the tables and figures of
:mod:`semclust.validation.evaluate.ratings`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.validation.evaluate.answer_files import SamplingError, cluster_labels, read_csv
from semclust.validation.evaluate.persist import Section
from semclust.validation.evaluate.ratings import (
    WEIGHTINGS,
    RatingsOptions,
    ScaleInfo,
    by_cluster,
    group_means,
    reliability,
    share_marks,
)
from semclust.validation.evaluate.ratings_plots import plot_group_means, plot_rating_heatmap


def read_ratings(path: Path, scales: list[dict] | None = None, group: str | None = None):
    """The ratings table, its scales and group column (from the sidecar unless given).

    Raises
    ------
    SamplingError
        A missing file or column, or a rating that is not a number in its scale's range.
    """
    path = Path(path)
    table = read_csv(path, "ratings")
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    scales = scales or meta.get("scales")
    if not scales:
        raise SamplingError(
            f"{path.name}: no scales: keep the .json that `semclust annotate export` wrote "
            "beside it, or give --scales"
        )
    infos = [
        ScaleInfo(s["name"], s.get("dimension"), float(s.get("low", 1)), float(s.get("high", 10)))
        for s in scales
    ]
    group = group or meta.get("group")
    needed = ["id", "coder", *[s.name for s in infos], *([group] if group else [])]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise SamplingError(
            f"{path.name} lacks the column(s) {missing}; it has {list(table.columns)}"
        )
    for scale in infos:
        values = pd.to_numeric(table[scale.name].replace("", np.nan), errors="coerce")
        bad = table[scale.name].ne("") & (values.isna() | ~values.between(scale.low, scale.high))
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise SamplingError(
                f"line {line} of {path.name}: {scale.name} {table[scale.name][bad].iloc[0]!r} "
                f"is not a number from {scale.low:g} to {scale.high:g}"
            )
        table[scale.name] = values
    return table, infos, group


def ratings_section(
    run, path: Path, options: RatingsOptions, *, scales=None, group=None
) -> Section:
    """Heatmap by cluster, means by group with intervals, reliability: one section."""
    unknown = [w for w in options.weightings if w not in WEIGHTINGS]
    if unknown:
        raise SamplingError(f"--weighting {unknown[0]!r}: equal, size or both")
    table, infos, group = read_ratings(path, scales, group)
    labels = cluster_labels(run.assignments)
    clustered = labels[labels >= 0]
    sizes = clustered.value_counts()
    table["cluster"] = table["id"].map(clustered)
    unclustered = int(table["cluster"].isna().sum())
    table = table[table["cluster"].notna()].astype({"cluster": int})
    if table.empty:
        raise SamplingError(f"no rated image of {Path(path).name} is in a cluster of run {run.id}")
    heat = by_cluster(table, infos, sizes)
    marks = share_marks(sizes, list(heat.columns))
    low = min(s.low for s in infos)
    high = max(s.high for s in infos)
    tables = {
        "by_cluster": heat.T.reset_index()
        .rename(columns={"index": "cluster"})
        .assign(size=lambda t: t["cluster"].map(sizes)),
        "reliability": reliability(table, infos),
    }
    plots = {
        "ratings_by_cluster.png": lambda p: plot_rating_heatmap(heat, marks, p, low=low, high=high)
    }
    data = {
        "file": str(path),
        "ratings": len(table),
        "images": int(table["id"].nunique()),
        "coders": int(table["coder"].nunique()),
        "clusters_rated": int(heat.shape[1]),
        "unclustered_ratings_left_out": unclustered,
        "share_marks": {f"{k:.0%}": v for k, v in marks.items()},
        "reliability": tables["reliability"],
        "group": group,
        "bootstrap": {"replicates": options.n_boot, "confidence": options.confidence},
    }
    if group:
        means = group_means(table, infos, group, sizes, options)
        tables["by_group"] = means
        for weighting in options.weightings:
            plots[f"ratings_by_group_{weighting}.png"] = lambda p, w=weighting: plot_group_means(
                means, p, weighting=w
            )
        difference = means["group"].str.contains(" - ", regex=False)
        data["by_group"] = means[(means["kind"] == "dimension") & ~difference]
        data["differences"] = means[difference]
    return Section(data, tables, plots)
