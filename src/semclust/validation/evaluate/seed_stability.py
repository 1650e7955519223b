"""Stability of a clustering across random seeds.

A theme that appears only for one seed is an accident of initialisation, not a finding.
This module reruns a clusterer with several seeds and reports

* the adjusted mutual information (AMI) of every pair of seeds (1 = identical partitions
  up to renaming; outliers, -1, count as one more label), its mean, min and max; AMI is
  Zhang & Leung's max-normalised form unless ``ami_form`` asks for another;
* the number of clusters each seed finds (outliers not counted);
* which clusters of the first ("reference") seed persist. A reference cluster ``C``
  *persists in* another seed's run if its best match there, the cluster ``D`` maximising
  the Jaccard index ``|C & D| / |C | D|`` over the items, has Jaccard >= the threshold
  (default 0.5: ``C`` and ``D`` share at least half of their union; above 0.5 a match is
  necessarily one-to-one). A cluster is *persistent* if it persists in every other seed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics.cluster import contingency_matrix

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.ami import PAPER_FORM, adjusted_mutual_info, check_form
from semclust.validation.evaluate.sdbw import OUTLIER, check_labels

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StabilityReport:
    """What changed across seeds (see the module docstring for the definitions).

    Attributes
    ----------
    seeds : list of int
        The seeds, reference first.
    pairwise_ami : DataFrame
        ``seed_a``, ``seed_b``, ``ami`` for every pair of seeds.
    n_clusters : Series
        Clusters found (outliers excluded), indexed by seed.
    persistence : DataFrame
        One row per reference cluster: ``cluster``, ``size``, ``mean_best_jaccard`` over
        the other seeds, ``n_seeds_persisting`` and ``persistent`` (in all other seeds).
    jaccard_threshold : float
    ami_form : str
        The AMI normaliser (:mod:`semclust.validation.evaluate.ami`).
    """

    seeds: list[int]
    pairwise_ami: pd.DataFrame
    n_clusters: pd.Series
    persistence: pd.DataFrame
    jaccard_threshold: float
    ami_form: str = PAPER_FORM

    @property
    def ami_mean(self) -> float:
        return float(self.pairwise_ami["ami"].mean())

    @property
    def ami_min(self) -> float:
        return float(self.pairwise_ami["ami"].min())

    @property
    def ami_max(self) -> float:
        return float(self.pairwise_ami["ami"].max())

    @property
    def n_persistent(self) -> int:
        """Reference clusters that persist in every other seed."""
        return int(self.persistence["persistent"].sum())


def best_jaccard(reference: ArrayLike, other: ArrayLike) -> pd.Series:
    """For each cluster of ``reference``, the largest Jaccard index with a cluster of ``other``.

    Both are labels of the same items in the same order; outliers (-1) form no cluster.
    """
    reference, other = check_labels(reference), check_labels(other)
    if len(reference) != len(other):
        raise SemclustError(f"labelings differ in length: {len(reference)} vs {len(other)}")
    ref_ids, other_ids = np.unique(reference), np.unique(other)
    counts = contingency_matrix(reference, other)  # rows ref_ids, columns other_ids
    ref_keep, other_keep = ref_ids != OUTLIER, other_ids != OUTLIER
    inter = counts[np.ix_(ref_keep, other_keep)]
    union = counts.sum(axis=1)[ref_keep, None] + counts.sum(axis=0)[None, other_keep] - inter
    best = (inter / union).max(axis=1) if other_keep.any() else np.zeros(ref_keep.sum())
    return pd.Series(best, index=pd.Index(ref_ids[ref_keep], name="cluster"), name="best_jaccard")


def stability(
    fit_predict: Callable[[int], ArrayLike],
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    jaccard_threshold: float = 0.5,
    ami_form: str = PAPER_FORM,
) -> StabilityReport:
    """Run ``fit_predict(seed)`` for each seed and compare the labelings.

    Parameters
    ----------
    fit_predict : callable ``seed -> labels``
        Clusters the same items with the given seed; -1 marks outliers.
    seeds : sequence of int
        At least two distinct seeds; the first is the reference for persistence.
    jaccard_threshold : float in (0, 1]
        Minimum best-match Jaccard for a cluster to persist in another seed.
    ami_form : str
        AMI normaliser: "max" (the paper's, default) or "arithmetic" (scikit-learn's).
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise SemclustError(f"stability needs at least 2 distinct seeds, got {seeds}")
    if not 0 < jaccard_threshold <= 1:
        raise SemclustError(f"jaccard_threshold must be in (0, 1], got {jaccard_threshold}")
    check_form(ami_form)
    runs = {seed: _run(fit_predict, seed) for seed in seeds}
    lengths = {seed: len(labels) for seed, labels in runs.items()}
    if len(set(lengths.values())) > 1:
        raise SemclustError(f"seeds labelled different numbers of items: {lengths}")
    pairwise = pd.DataFrame(
        [
            (a, b, adjusted_mutual_info(runs[a], runs[b], ami_form))
            for a, b in itertools.combinations(seeds, 2)
        ],
        columns=["seed_a", "seed_b", "ami"],
    )
    n_clusters = pd.Series(
        {seed: len(np.unique(labels[labels != OUTLIER])) for seed, labels in runs.items()},
        name="n_clusters",
    )
    return StabilityReport(
        seeds=seeds,
        pairwise_ami=pairwise,
        n_clusters=n_clusters,
        persistence=_persistence(runs, seeds, jaccard_threshold),
        jaccard_threshold=jaccard_threshold,
        ami_form=ami_form,
    )


def _run(fit_predict: Callable[[int], ArrayLike], seed: int) -> np.ndarray:
    """Labels for one seed, validated."""
    labels = check_labels(fit_predict(seed), name=f"labels for seed {seed}")
    logger.info("seed %d: %d clusters", seed, len(np.unique(labels[labels != OUTLIER])))
    return labels


def _persistence(runs: dict[int, np.ndarray], seeds: list[int], threshold: float) -> pd.DataFrame:
    """Per reference cluster: size, mean best Jaccard and in how many seeds it persists."""
    reference = runs[seeds[0]]
    best = pd.concat([best_jaccard(reference, runs[s]) for s in seeds[1:]], axis=1)
    persisting = (best >= threshold).sum(axis=1)
    ids, sizes = np.unique(reference[reference != OUTLIER], return_counts=True)
    return pd.DataFrame(
        {
            "cluster": ids,
            "size": sizes,
            "mean_best_jaccard": best.mean(axis=1).to_numpy(),
            "n_seeds_persisting": persisting.to_numpy(),
            "persistent": (persisting == len(seeds) - 1).to_numpy(),
        }
    )
