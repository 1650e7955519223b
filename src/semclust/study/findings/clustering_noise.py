"""Intervals that vary the clustering too, beside those that vary only the sample.

A share that holds for one seed of UMAP/HDBSCAN only is not a finding. Each replicate here
first draws a clustering, then resamples the items (a multinomial draw of each group's counts,
as in :mod:`~semclust.study.findings.prevalence`):

- ``runs``: where the study holds other runs with the same settings but another seed (e.g.
  ``semclust cluster --seed 1``), a replicate picks one of the runs at random; each run's
  clusters are matched one-to-one to this run's by their overlap (Hungarian assignment), and an
  item in an unmatched cluster counts as an outlier;
- ``soft``: otherwise each item keeps its cluster with its membership strength (HDBSCAN's
  ``probabilities_``, the ``probability`` column) and is an outlier otherwise.

Shown side by side, the two intervals tell how much of the uncertainty is clustering noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from semclust.study.findings.inputs import codes
from semclust.study.findings.prevalence import LEVEL, bootstrap_shares, percentile_interval
from semclust.study.runs import is_complete, runs_folder

#: Settings that must match for another run to count as the same clustering with another seed.
SAME_SETTINGS = ("source", "embedder", "reducer", "clusterer", "route", "image_embedder", "image_weight",
                 "text_column", "clip_combine", "fit_sample")


def sibling_labels(study_folder: Path | None, run_id: str, config: dict, ids: pd.Series) -> list[np.ndarray]:
    """Cluster labels of ``ids`` in every other finished run with this run's settings and another seed."""
    if study_folder is None:
        return []
    found = []
    for folder in sorted(runs_folder(study_folder).glob("*")):
        if folder.name == run_id or folder.is_symlink() or not is_complete(folder):
            continue
        other = json.loads((folder / "config.json").read_text())
        if other.get("seed") == config.get("seed") or any(other.get(k) != config.get(k) for k in SAME_SETTINGS):
            continue
        table = pd.read_parquet(folder / "assignments.parquet", columns=["id", "cluster"])
        labels = table.assign(id=table["id"].astype(str)).set_index("id")["cluster"]
        found.append(labels.reindex(ids.to_numpy()).fillna(-1).astype(int).to_numpy())
    return found


def align(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``other``'s labels renamed to the reference's clusters they overlap most (one-to-one)."""
    ref_levels = np.unique(reference[reference >= 0])
    other_levels = np.unique(other[other >= 0])
    overlap = pd.crosstab(other, reference).reindex(index=other_levels, columns=ref_levels, fill_value=0)
    rows, cols = linear_sum_assignment(-overlap.to_numpy())
    mapping = {int(other_levels[r]): int(ref_levels[c]) for r, c in zip(rows, cols, strict=True)
               if overlap.iat[r, c] > 0}
    return np.array([mapping.get(int(v), -1) for v in other])


def noise_table(rows: pd.DataFrame, *, by_group: bool, siblings: list[np.ndarray], n_boot: int, rng: np.random.Generator, level: float = LEVEL) -> tuple[pd.DataFrame, str]:
    """Per cluster (x group): share, sampling-only interval, sampling+clustering interval."""
    labels = rows["cluster"].to_numpy()
    clusters = sorted(np.unique(labels))
    group_codes, groups = codes(rows["group"]) if by_group else (np.zeros(len(rows), int), ["all"])
    counts = _counts(labels, group_codes, len(groups), clusters)
    sampling = bootstrap_shares(counts, n_boot, rng)
    if siblings:
        source = f"runs ({len(siblings) + 1} seeds)"
        candidates = [labels, *(align(labels, s) for s in siblings)]

        def draw() -> np.ndarray:
            return candidates[rng.integers(len(candidates))]
    else:
        strength = rows["probability"].fillna(1.0).to_numpy(float) if "probability" in rows else np.ones(len(rows))
        source = "soft memberships" if (strength < 1).any() else "none (every membership strength is 1)"

        def draw() -> np.ndarray:
            return np.where(rng.random(len(labels)) < strength, labels, -1)
    varied = np.empty_like(sampling)
    for b in range(n_boot):  # an item drawn out of its cluster becomes an outlier (-1)
        varied[b] = bootstrap_shares(_counts(draw(), group_codes, len(groups), clusters), 1, rng)[0]
    s_low, s_high = percentile_interval(sampling, level)
    c_low, c_high = percentile_interval(varied, level)
    shares = counts / counts.sum(axis=1, keepdims=True)
    out = []
    for g, group in enumerate(groups):
        for k, cluster in enumerate(clusters):
            out.append({"cluster": int(cluster), "group": group, "share": shares[g, k],
                        "sampling_low": s_low[g, k], "sampling_high": s_high[g, k],
                        "clustering_low": c_low[g, k], "clustering_high": c_high[g, k]})
    table = pd.DataFrame(out)
    table["clustering_source"] = source
    return (table.drop(columns="group") if not by_group else table), source


def _counts(labels: np.ndarray, group_codes: np.ndarray, n_groups: int, clusters: list) -> np.ndarray:
    """Items per group x cluster; a label not in ``clusters`` (an excluded outlier) is not counted."""
    levels = np.asarray(clusters)
    known = np.minimum(np.searchsorted(levels, labels), len(levels) - 1)
    ok = levels[known] == labels
    flat = group_codes[ok] * len(levels) + known[ok]
    return np.bincount(flat, minlength=n_groups * len(clusters)).reshape(n_groups, len(clusters))
