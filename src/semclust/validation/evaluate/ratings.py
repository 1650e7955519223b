"""Analysis of a rating study (Casas et al. 3.2-3.3, Figures 9 and 10).

Input: one row per rated image and coder (``id``, ``coder``, the group column, one column
per scale), as ``semclust annotate export`` writes it, and the clusters of the run.

* **by cluster** (Figure 9): the mean rating of each scale in each cluster over all
  coders, clusters ordered largest first, with the cluster positions at which 50, 75 and
  90 % of the clustered items are covered;
* **by group** (Figure 10): each group's mean per scale and per dimension (the mean of
  its scales), averaged over clusters with equal weight -- the stratified design, where
  every cluster counts once -- or weighted by cluster size (the corpus average);
  percentile bootstrap intervals resample clusters, and the difference of each group
  from the first is bootstrapped the same way. Only clusters rated by every group enter
  the comparison, so the groups are compared on the same images' clusters;
* **reliability**: Krippendorff's alpha per scale (interval), coders x images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from semclust.validation.evaluate.answer_files import SamplingError

#: Cumulative shares of the clustered items marked in the cluster heatmap (Figure 9).
SHARES = (0.5, 0.75, 0.9)
WEIGHTINGS = ("equal", "size")


@dataclass(frozen=True)
class RatingsOptions:
    """How to summarise: bootstrap replicates, interval level, seed, weightings to report."""

    n_boot: int = 2000
    confidence: float = 0.95
    seed: int = 0
    weightings: tuple[str, ...] = ("equal",)


@dataclass(frozen=True)
class ScaleInfo:
    """What the analysis needs of a scale: its name, dimension and range."""

    name: str
    dimension: str | None
    low: float
    high: float


def by_cluster(ratings: pd.DataFrame, scales: list[ScaleInfo], sizes: pd.Series) -> pd.DataFrame:
    """Mean rating per scale (rows) and cluster (columns, largest first) over all coders.

    ``sizes``: items per cluster in the whole run (not the sample): it orders the columns.
    Clusters without ratings are left out.
    """
    names = [s.name for s in scales]
    means = ratings.groupby("cluster")[names].mean()
    order = [c for c in sizes.sort_values(ascending=False, kind="stable").index if c in means.index]
    return means.loc[order].T


def share_marks(sizes: pd.Series, columns, shares=SHARES) -> dict[float, int]:
    """For each share, how many of the largest clusters (of ``columns``) it takes to cover it.

    Shares are of all clustered items (``sizes`` summed), as in Figure 9's red lines.
    """
    ordered = sizes.sort_values(ascending=False, kind="stable")
    cumulative = ordered.cumsum() / ordered.sum()
    marks = {}
    for share in shares:
        reached = cumulative[cumulative >= share - 1e-12].index[0]
        covered = list(ordered.index[: ordered.index.get_loc(reached) + 1])
        marks[share] = sum(1 for c in columns if c in covered)
    return marks


def group_means(
    ratings: pd.DataFrame,
    scales: list[ScaleInfo],
    group: str,
    sizes: pd.Series,
    options: RatingsOptions = RatingsOptions(),
) -> pd.DataFrame:
    """Each group's mean per scale and dimension over clusters, with bootstrap intervals.

    Returns
    -------
    DataFrame
        ``measure``, ``kind`` (scale or dimension), ``dimension``, ``group`` (a group, or
        ``B - A`` for the difference from the first group), ``weighting`` (equal or size),
        ``mean``, ``ci_low``, ``ci_high``, ``n_clusters``.
    """
    for weighting in options.weightings:
        if weighting not in WEIGHTINGS:
            raise SamplingError(f"weighting {weighting!r}: one of {', '.join(WEIGHTINGS)}")
    groups = list(dict.fromkeys(ratings[group].dropna().astype(str)))
    if len(groups) < 1:
        raise SamplingError(f"no rating has a value in the group column {group!r}")
    cube, measures, clusters = _cluster_means(ratings, scales, group, groups)
    if len(clusters) == 0:
        raise SamplingError("no cluster was rated by every group: nothing to compare")
    rng = np.random.default_rng(options.seed)
    # a replicate draws len(clusters) clusters with replacement: how often each was drawn
    counts = rng.multinomial(
        len(clusters), np.full(len(clusters), 1 / len(clusters)), options.n_boot
    )
    alpha = (1 - options.confidence) / 2
    rows = []
    for weighting in options.weightings:
        weight = (
            np.ones(len(clusters))
            if weighting == "equal"
            else sizes.reindex(clusters).to_numpy(dtype=float)
        )
        point = np.einsum("c,gcm->gm", weight, cube) / weight.sum()
        boot_w = counts * weight  # (replicates, clusters)
        boot = np.einsum("bc,gcm->gbm", boot_w, cube) / boot_w.sum(1)[None, :, None]
        estimates = [(name, point[g], boot[g]) for g, name in enumerate(groups)]
        estimates += [
            (f"{name} - {groups[0]}", point[g] - point[0], boot[g] - boot[0])
            for g, name in enumerate(groups)
            if g > 0
        ]
        for label, value, replicates in estimates:
            low, high = np.quantile(replicates, [alpha, 1 - alpha], axis=0)
            for m, (measure, kind, dimension) in enumerate(measures):
                rows.append(
                    {
                        "measure": measure,
                        "kind": kind,
                        "dimension": dimension,
                        "group": label,
                        "weighting": weighting,
                        "mean": value[m],
                        "ci_low": low[m],
                        "ci_high": high[m],
                        "n_clusters": len(clusters),
                    }
                )
    return pd.DataFrame(rows)


def _cluster_means(ratings, scales, group, groups):
    """Per group (axis 0), cluster (axis 1) and measure (axis 2): the mean rating.

    Measures are the scales, then each dimension (the mean of its scales' cluster means).
    Only clusters rated by every group are kept.
    """
    names = [s.name for s in scales]
    means = (
        ratings.assign(_group=ratings[group].astype(str))
        .groupby(["_group", "cluster"])[names]
        .mean()
    )
    clusters = sorted(
        set.intersection(*(set(means.loc[g].index) for g in groups if g in means.index))
        if all(g in means.index.get_level_values(0) for g in groups)
        else set()
    )
    dimensions = list(dict.fromkeys(s.dimension for s in scales if s.dimension))
    measures = [(s.name, "scale", s.dimension) for s in scales]
    measures += [(d, "dimension", d) for d in dimensions]
    cube = np.empty((len(groups), len(clusters), len(measures)))
    for g, name in enumerate(groups):
        if not clusters:
            break
        table = means.loc[name].loc[clusters, names]
        for d in dimensions:
            table[d] = table[[s.name for s in scales if s.dimension == d]].mean(axis=1)
        cube[g] = table.to_numpy(dtype=float)
    return cube, measures, clusters


def reliability(ratings: pd.DataFrame, scales: list[ScaleInfo]) -> pd.DataFrame:
    """Krippendorff's alpha (interval) per scale: coders x images, missing where not rated."""
    import krippendorff

    rows = []
    for scale in scales:
        matrix = ratings.pivot_table(index="coder", columns="id", values=scale.name, aggfunc="mean")
        paired = matrix.loc[:, matrix.notna().sum() >= 2]
        values = paired.to_numpy(dtype=float)
        alpha, reason = None, None
        if paired.shape[1] == 0:
            reason = "no image was rated by two coders"
        elif len(np.unique(values[~np.isnan(values)])) < 2:
            reason = "every rating is the same"
        else:
            alpha = float(
                krippendorff.alpha(reliability_data=values, level_of_measurement="interval")
            )
        rows.append(
            {
                "scale": scale.name,
                "alpha_interval": alpha,
                "images_rated_twice": paired.shape[1],
                "coders": matrix.shape[0],
                "reason": reason,
            }
        )
    return pd.DataFrame(rows)
