"""Agreement with known labels (semclust.validation.evaluate.external), checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from semclust.validation.evaluate import EvaluationInputError, external_scores

RNG = np.random.default_rng(11)
TRUE = RNG.choice(["protest", "energy", "meme"], 80)
PRED = np.where(RNG.random(80) < 0.7, np.searchsorted(["energy", "meme", "protest"], TRUE), -1)
PRED[:5] = 3  # a cluster that mixes labels


def _sklearn(truth, pred, method="arithmetic") -> dict[str, float]:
    homogeneity, completeness, _ = metrics.homogeneity_completeness_v_measure(truth, pred)
    return {
        "ami": metrics.adjusted_mutual_info_score(truth, pred, average_method=method),
        "ari": metrics.adjusted_rand_score(truth, pred),
        "nmi": metrics.normalized_mutual_info_score(truth, pred, average_method=method),
        "homogeneity": homogeneity,
        "completeness": completeness,
    }


@pytest.mark.parametrize("method", ["arithmetic", "max"])
def test_both_readings_match_sklearn(method):
    scores = external_scores(TRUE, PRED, average_method=method)
    clustered = PRED != -1
    for reading, (truth, pred) in {
        "with_outliers": (TRUE, PRED),  # -1 is one group of its own
        "without_outliers": (TRUE[clustered], PRED[clustered]),
    }.items():
        got = getattr(scores, reading)
        for name, value in _sklearn(truth, pred, method).items():
            assert getattr(got, name) == pytest.approx(value), (reading, name)
        assert got.n_items == len(truth)
    assert scores.n_outliers == (~clustered).sum() > 0
    assert scores.with_outliers.ami != pytest.approx(scores.without_outliers.ami)


def test_unlabelled_items_are_left_out():
    truth = TRUE.astype(object)
    truth[::4] = None
    scores = external_scores(truth, PRED)
    kept = np.arange(80) % 4 != 0
    assert scores.n_unlabelled == 20
    assert scores.with_outliers.ari == pytest.approx(
        metrics.adjusted_rand_score(TRUE[kept], PRED[kept])
    )
    assert scores.to_dict()["n_unlabelled"] == 20


def test_perfect_and_all_outliers():
    perfect = external_scores([0, 0, 1, 1], [5, 5, 7, 7])
    assert perfect.with_outliers.ami == pytest.approx(1.0)
    assert perfect.without_outliers == perfect.with_outliers
    lost = external_scores([0, 0, 1, 1], [-1, -1, -1, -1])
    assert lost.without_outliers is None and lost.to_dict()["without_outliers"] is None


@pytest.mark.parametrize(
    ("truth", "pred", "message"),
    [
        ([0, 1, 2], [0, 1], "3 known labels but 2 cluster labels"),
        ([], [], "no item has a known label"),
        ([None, None], [0, 1], "no item has a known label"),
        ([0, 1, 2], [0, 1.5, 2], "item 1: cluster 1.5 is not a whole number"),
        ([0, 1, 2], [0, None, 2], "item 1: cluster None is not a whole number"),
    ],
)
def test_bad_input(truth, pred, message):
    with pytest.raises(EvaluationInputError, match=message):
        external_scores(truth, pred)


def test_bad_average_method():
    with pytest.raises(EvaluationInputError, match="average_method must be one of"):
        external_scores([0, 1], [0, 1], average_method="median")


def test_default_is_the_papers_max_normalised_ami():
    scores = external_scores(TRUE, PRED)
    expected = metrics.adjusted_mutual_info_score(TRUE, PRED, average_method="max")
    assert scores.with_outliers.ami == pytest.approx(expected)
    assert scores.with_outliers.ami != pytest.approx(
        metrics.adjusted_mutual_info_score(TRUE, PRED), abs=1e-4
    )
    assert scores.to_dict()["ami_form"] == "max"
