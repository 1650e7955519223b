"""Stability across seeds: AMI, cluster counts, Jaccard persistence."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.seed_stability import best_jaccard, stability

BASE = np.repeat([0, 1, 2, 3], 50)


def test_deterministic_clusterer_is_perfectly_stable():
    report = stability(lambda seed: BASE.copy(), seeds=[0, 1, 2])
    assert report.ami_mean == pytest.approx(1.0)
    assert report.ami_min == pytest.approx(1.0)
    assert list(report.n_clusters) == [4, 4, 4]
    assert report.n_persistent == 4
    assert len(report.pairwise_ami) == 3


def noisy(seed):
    """BASE with 30% of items moved to a random cluster, differently per seed."""
    rng = np.random.default_rng(seed)
    labels = BASE.copy()
    moved = rng.random(len(labels)) < 0.3
    labels[moved] = rng.integers(0, 4, size=moved.sum())
    return labels


def test_noisy_clusterer_pairwise_ami_and_summary_are_pinned():
    seeds = [0, 1, 2, 3]
    report = stability(noisy, seeds=seeds)
    expected = [
        adjusted_mutual_info_score(noisy(a), noisy(b), average_method="max")
        for a, b in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    ]
    assert report.pairwise_ami[["seed_a", "seed_b"]].values.tolist() == [
        [0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]
    ]  # fmt: skip
    np.testing.assert_allclose(report.pairwise_ami["ami"], expected)
    assert report.ami_mean == pytest.approx(np.mean(expected))
    assert (report.ami_min, report.ami_max) == (pytest.approx(min(expected)), pytest.approx(max(expected)))
    assert 0.1 < report.ami_mean < 0.5  # 30% moved per seed: far below the stable 1.0
    assert list(report.n_clusters) == [4, 4, 4, 4]


def test_best_jaccard_hand_worked():
    # reference 0 = {0,1,2}, 1 = {3,4}; other 5 = {0,1}, 1 = {2,3,4,5}
    # J(0,5) = 2/3, J(0,1) = 1/6; J(1,5) = 0, J(1,1) = 2/4
    best = best_jaccard([0, 0, 0, 1, 1, -1], [5, 5, 1, 1, 1, 1])
    assert list(best.index) == [0, 1]
    np.testing.assert_allclose(best.to_numpy(), [2 / 3, 0.5])


def test_persistence_threshold_is_a_parameter():
    runs = {0: np.array([0, 0, 0, 1, 1, -1]), 1: np.array([5, 5, 1, 1, 1, 1])}
    loose = stability(runs.__getitem__, seeds=[0, 1], jaccard_threshold=0.5)
    strict = stability(runs.__getitem__, seeds=[0, 1], jaccard_threshold=0.6)
    assert list(loose.persistence["persistent"]) == [True, True]
    assert list(strict.persistence["persistent"]) == [True, False]
    assert list(strict.persistence["size"]) == [3, 2]
    assert strict.n_persistent == 1


def test_other_seed_with_only_outliers_persists_nothing():
    best = best_jaccard([0, 0, 1, 1], [-1, -1, -1, -1])
    np.testing.assert_array_equal(best.to_numpy(), [0.0, 0.0])


@pytest.mark.parametrize(
    ("seeds", "kwargs", "message"),
    [
        ([0], {}, "at least 2 distinct seeds"),
        ([1, 1], {}, "at least 2 distinct seeds"),
        ([0, 1], {"jaccard_threshold": 0.0}, "jaccard_threshold"),
    ],
)
def test_bad_parameters(seeds, kwargs, message):
    with pytest.raises(SemclustError, match=message):
        stability(lambda seed: BASE, seeds=seeds, **kwargs)


def test_runs_of_different_length_are_rejected():
    with pytest.raises(SemclustError, match="different numbers of items"):
        stability(lambda seed: BASE[: 100 + seed], seeds=[0, 1])
