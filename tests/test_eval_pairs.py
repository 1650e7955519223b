"""Pair-counting precision/recall/F1 and its cross-validation (semclust.validation.evaluate.pairs)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.cluster import pair_confusion_matrix

from semclust.validation.evaluate import EvaluationInputError, pair_scores, pair_scores_cv

RNG = np.random.default_rng(0)
N = 30
TRUE = RNG.integers(0, 3, N)  # the humans' categories
PRED = RNG.integers(-1, 4, N)  # a clustering, -1 = outlier
IDS = [f"img{i}" for i in range(N)]


def _assignments(pred: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"id": IDS, "cluster": pred})


def _all_pairs() -> pd.DataFrame:
    """Every pair coded: same = same category; connotative 2 if same, else 0 or 1."""
    i, j = map(np.array, zip(*combinations(range(N), 2), strict=True))
    same = (TRUE[i] == TRUE[j]).astype(int)
    return pd.DataFrame(
        {
            "id_a": np.array(IDS)[i],
            "id_b": np.array(IDS)[j],
            "same": same,
            "connotative": np.where(same == 1, 2, RNG.integers(0, 2, len(i))),
        }
    )


CODES = _all_pairs()


def _brute_force(true, pred, outliers: str) -> dict[str, int]:
    """Enumerate every pair and count it, the slow obvious way."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for a, b in combinations(range(len(true)), 2):
        if outliers == "exclude" and -1 in (pred[a], pred[b]):
            continue
        together = pred[a] == pred[b] and pred[a] != -1
        human = true[a] == true[b]
        key = ("t" if together == human else "f") + ("p" if together else "n")
        counts[key] += 1
    return counts


@pytest.mark.parametrize("outliers", ["exclude", "different"])
def test_counts_match_brute_force_enumeration(outliers):
    scores = pair_scores(_assignments(PRED), CODES, outliers=outliers)
    expected = _brute_force(TRUE, PRED, outliers)
    assert {k: getattr(scores, k) for k in expected} == expected
    tp, fp, fn = expected["tp"], expected["fp"], expected["fn"]
    assert scores.precision == pytest.approx(tp / (tp + fp))
    assert scores.recall == pytest.approx(tp / (tp + fn))
    assert scores.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert scores.n_pairs + scores.n_excluded == len(CODES)


def test_counts_match_sklearn_pair_confusion_matrix():
    # with outliers as singletons, the coded pairs are all pairs: sklearn counts each twice
    singletons = np.where(PRED == -1, 100 + np.arange(N), PRED)
    (tn, fp), (fn, tp) = pair_confusion_matrix(TRUE, singletons) // 2
    scores = pair_scores(_assignments(PRED), CODES, outliers="different")
    assert (scores.tp, scores.fp, scores.fn, scores.tn) == (tp, fp, fn, tn)


def test_threshold_on_graded_codes():
    # connotative >= 2 is exactly "same category", so it scores like the binary column
    graded = pair_scores(_assignments(PRED), CODES, dimension="connotative", threshold=2)
    assert graded == pair_scores(_assignments(PRED), CODES)
    loose = pair_scores(_assignments(PRED), CODES, dimension="connotative", threshold=1)
    assert loose.tp + loose.fn > graded.tp + graded.fn


def test_undefined_precision_is_nan():
    apart = pair_scores(_assignments(np.arange(N)), CODES)
    assert np.isnan(apart.precision) and apart.recall == 0 and apart.tp == apart.fp == 0


def test_cv_folds_partition_the_pairs_and_summarise():
    cv = pair_scores_cv(_assignments(PRED), CODES, n_splits=5, random_state=3)
    total = pair_scores(_assignments(PRED), CODES)
    assert len(cv.folds) == 5
    for count in ("tp", "fp", "fn", "tn", "n_excluded"):
        assert sum(getattr(f, count) for f in cv.folds) == getattr(total, count)
    for metric in ("precision", "recall", "f1"):
        values = [getattr(f, metric) for f in cv.folds]
        assert cv.mean[metric] == pytest.approx(np.mean(values))
        assert cv.std[metric] == pytest.approx(np.std(values))
    assert cv.to_dict()["folds"][0]["n_pairs"] == cv.folds[0].n_pairs


def test_cv_is_seeded_stratified_and_shared_between_runs():
    run = _assignments(PRED)
    first = pair_scores_cv(run, CODES, random_state=1)
    assert pair_scores_cv(run, CODES, random_state=1) == first
    assert pair_scores_cv(run, CODES, random_state=2).folds != first.folds
    # one cluster for everything: per fold, tp + fp is every pair and tp the humans' "same"
    together = pair_scores_cv(_assignments(np.zeros(N, int)), CODES, random_state=1)
    apart = pair_scores_cv(_assignments(np.arange(N)), CODES, random_state=1)
    human_same = [f.tp for f in together.folds]
    assert human_same == [f.fn for f in apart.folds]
    assert max(human_same) - min(human_same) <= 1  # stratified
    sizes = [f.n_pairs + f.n_excluded for f in first.folds]
    assert sizes == [f.n_pairs for f in together.folds]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dimension": "connotative"}, "give the threshold"),
        ({"dimension": "connotative", "threshold": 3}, r"threshold must be in \(0, 2\]"),
        ({"threshold": 2}, r"threshold must be in \(0, 1\]"),
        ({"dimension": "denotative", "threshold": 1}, "no 'denotative' column"),
        ({"outliers": "drop"}, "outliers must be"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(EvaluationInputError, match=message):
        pair_scores(_assignments(PRED), CODES, **options)


def test_too_many_folds():
    with pytest.raises(EvaluationInputError, match="10-fold cross-validation needs at least 10") as caught:
        pair_scores_cv(_assignments(PRED), CODES.iloc[:8], n_splits=10)
    assert "Found array" not in str(caught.value) and "n_splits" not in str(caught.value)


def test_default_scores_all_coded_pairs_so_discarding_hard_images_does_not_pay():
    # a run that makes every item it got wrong an outlier: perfect on the pairs it keeps
    perfect = TRUE.copy()
    discarding = np.where(RNG.random(N) < 0.4, -1, perfect)
    kept = pair_scores(_assignments(discarding), CODES, outliers="exclude")
    assert kept.precision == kept.recall == 1.0
    every = pair_scores(_assignments(discarding), CODES)  # the default: all coded pairs
    assert every == pair_scores(_assignments(discarding), CODES, outliers="different")
    assert every.n_pairs == len(CODES) and every.recall < 0.7
    assert every.f1 < pair_scores(_assignments(perfect), CODES).f1 == 1.0


def test_evaluation_section_reports_both_forms_with_the_pairs_left_out():
    from types import SimpleNamespace

    from semclust.validation.evaluate import EvaluateOptions, load_codes
    from semclust.validation.evaluate.sections import pair_score_section

    run = SimpleNamespace(assignments=_assignments(PRED))
    section = pair_score_section(run, load_codes(CODES), EvaluateOptions(), {})
    result = section.data["by_dimension"]["same"]
    every = pair_scores(_assignments(PRED), CODES, outliers="different")
    clustered = pair_scores(_assignments(PRED), CODES, outliers="exclude")
    assert result["scores"]["f1"] == pytest.approx(every.f1)
    assert result["clustered_pairs"]["scores"]["f1"] == pytest.approx(clustered.f1)
    assert result["clustered_pairs"]["n_left_out"] == every.n_pairs - clustered.n_pairs > 0
    assert set(section.tables["scores"]["pairs"]) == {"all_pairs", "clustered_pairs"}
