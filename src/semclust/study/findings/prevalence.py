"""Shares of each cluster per group and per period, with intervals.

A single share gets a Wilson score interval (``statsmodels``' ``proportion_confint``): it
keeps close to its nominal coverage for small groups and shares near 0 or 1, where the normal
(Wald) interval fails. Statistics of several shares at once (differences, ratios) get an item
bootstrap instead; :func:`bootstrap_counts` draws it. Resampling a group's items with
replacement gives cluster counts that are exactly multinomial with the observed shares, so the
bootstrap draws the counts directly and never materialises item indices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

LEVEL = 0.95


def wilson(count, total, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    low, high = proportion_confint(np.asarray(count), np.asarray(total), alpha=1 - level, method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def share_table(rows: pd.DataFrame, keys: list[str], names: dict[int, str],
                level: float = LEVEL) -> pd.DataFrame:
    """One row per cluster x ``keys`` cell: n, total of the cell, share, Wilson interval.

    Every cluster appears in every cell (with n = 0 where absent), so tables line up for R/Stata.
    """
    clusters = sorted(rows["cluster"].unique())
    if keys:
        counts = rows.groupby([*keys, "cluster"]).size().unstack("cluster", fill_value=0)
    else:
        counts = rows.groupby("cluster").size().to_frame().T
    counts = counts.reindex(columns=clusters, fill_value=0)
    totals = counts.sum(axis=1)
    long = counts.stack().rename("n").reset_index()
    if not keys:
        long = long.drop(columns=long.columns[0])
    long["total"] = long.set_index(keys).index.map(totals).to_numpy() if keys else int(totals.iloc[0])
    long["share"] = long["n"] / long["total"]
    long["ci_low"], long["ci_high"] = wilson(long["n"], long["total"], level)
    long.insert(0, "name", long["cluster"].map(lambda c: names.get(int(c), "")))
    ordered = ["cluster", "name", *keys, "n", "total", "share", "ci_low", "ci_high"]
    return long[ordered].sort_values([*keys, "cluster"], kind="stable").reset_index(drop=True)


def bootstrap_counts(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` item-bootstrap replicates of each group's cluster counts: shape (B, groups, clusters)."""
    counts = np.asarray(counts, dtype=np.int64)
    out = np.empty((n_boot, *counts.shape), dtype=np.int64)
    for g, row in enumerate(counts):
        total = int(row.sum())
        out[:, g] = rng.multinomial(total, row / total, size=n_boot) if total else 0
    return out


def bootstrap_shares(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    reps = bootstrap_counts(counts, n_boot, rng).astype(float)
    totals = reps.sum(axis=2, keepdims=True)
    return np.divide(reps, totals, out=np.full_like(reps, np.nan), where=totals > 0)


def percentile_interval(draws: np.ndarray, level: float = LEVEL, axis: int = 0):
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=axis)
    return low, high


def count_matrix(rows: pd.DataFrame, groups: list, clusters: list) -> np.ndarray:
    """Items per group (rows) and cluster (columns), in the order given."""
    table = pd.crosstab(rows["group"], rows["cluster"]).reindex(index=groups, columns=clusters, fill_value=0)
    return table.to_numpy()
