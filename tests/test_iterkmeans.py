"""Tests for Casas et al.'s iterative k-means (semclust.stages.cluster_iterkmeans)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_samples, silhouette_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from figure_capture import bar_heights, capture_figures
from semclust.core.errors import SemclustError
from semclust.stages.cluster_iterkmeans import (
    HISTORY_COLUMNS,
    IterativeKMeans,
    candidate_ks,
    from_spec,
    plot_iterations,
    window_converged,
)

# The hand-traced data set: seven points on a line (see test_matches_hand_trace).
LINE = np.array([0, 1, 11, 14, 21, 32, 33], dtype=float)[:, None]
LINE_PARAMS = dict(
    sample_size=1000,  # > 7, so the "sample" is every item and only k-means is random
    step_size=1,
    convergence_window=1,
    similarity_threshold=0.5,
    stop_size=2,
)


@pytest.fixture(scope="module")
def unequal_blobs():
    """Blobs of 2000, 500 and 100 points, 12 apart at sd 1, plus 10 scattered points."""
    X, y = make_blobs(
        n_samples=[2000, 500, 100],
        centers=[[0, 0], [12, 0], [0, 12]],
        cluster_std=1.0,
        random_state=0,
    )
    scattered = np.random.RandomState(1).uniform(-6, 18, size=(10, 2))
    return np.vstack([X, scattered]), y


def test_recovers_blobs_of_very_different_sizes(unequal_blobs):
    X, y = unequal_blobs
    model = IterativeKMeans(
        sample_size=500, step_size=1, similarity_threshold=0.5, random_state=0
    ).fit(X)
    blob_labels = model.labels_[: len(y)]
    assert adjusted_rand_score(y, blob_labels) >= 0.95
    assert model.n_clusters_ == 3
    # Discovery order is largest first: the 2000-point blob is cluster 0.
    assert np.bincount(blob_labels[blob_labels >= 0]).argmax() == 0
    assert np.all(blob_labels[y == 0] == 0)
    for c in range(model.n_clusters_):
        members = X[model.labels_ == c]
        np.testing.assert_allclose(model.cluster_centers_[c], members.mean(axis=0))


def test_matches_hand_trace():
    """Two iterations on 0, 1, 11, 14, 21, 32, 33 (step 1, window 1, threshold 0.5, stop 2).

    In 1-D the k-means optimum is a split into runs of neighbours; the runner-up's
    within-cluster sum of squares (SSE) is given to show the optimum is clear.
    s = (b - a) / max(a, b) with a = mean distance to the own cluster's other points,
    b = mean distance to the nearest other cluster; a singleton has s = 0.

    Iteration 1 (7 items; the sample is all of them). Candidate K: 2..min(max_k, 7 - 1,
    7 distinct) = 2..6, searched until the silhouette does not improve:

    - K=2: {0,1,11,14} {21,32,33}, SSE 237.7 (next {0..21} {32,33}: 317.7).
      s(0) = 1 - (26/3)/(86/3) = 30/43, s(1) = 1 - 8/(83/3) = 59/83,
      s(11) = 1 - 8/(53/3) = 29/53, s(14) = 1 - 10/(44/3) = 7/22,
      s(21) = 1 - (23/2)/(29/2) = 6/29, s(32) = 1 - 6/(51/2) = 13/17,
      s(33) = 1 - (13/2)/(53/2) = 40/53; mean 0.5715.
    - K=3: {0,1} {11,14,21} {32,33}, SSE 53.7 (next {0,1} {11,14} {21,32,33}: 93.7).
      s(0) = 1 - 1/(46/3) = 43/46, s(1) = 40/43, s(11) = 1 - (13/2)/(21/2) = 8/21,
      s(14) = 1 - 5/(27/2) = 17/27, s(21) = 1 - (17/2)/(23/2) = 6/23,
      s(32) = 1 - 1/(50/3) = 47/50, s(33) = 50/53; mean 0.7171 > 0.5715: go on.
    - K=4: {0,1} {11,14} {21} {32,33}, SSE 5.5 (next {0,1} {11} {14,21} {32,33}: 25.5).
      s = 23/25, 21/23, 7/10, 4/7, 0, 10/11, 11/12; mean 0.7043 <= 0.7171: stop.

    Best K seen: 3. Cluster silhouettes of that fit: {0,1} (43/46 + 40/43)/2 = 0.9325,
    {11,14,21} 0.4238, {32,33} 0.9417. Kept (> 0.5): {0,1} -> cluster 0 and
    {32,33} -> cluster 1 (equal sizes, so by first row); mean kept size 2.

    Iteration 2 (3 items 11, 14, 21 >= stop size 2). Candidate K: 2..min(3 - 1, 3) = [2].
    K=2: {11,14} {21} (SSE 4.5 vs 24.5 for {11} {14,21}); s = 7/10, 4/7, 0.
    Chosen K 2. {11,14}: (7/10 + 4/7)/2 = 0.6357 > 0.5 -> cluster 2; {21}: 0, dropped.
    One item (21) is left, fewer than the stop size: it is an outlier (-1).
    """
    model = IterativeKMeans(**LINE_PARAMS, random_state=0).fit(LINE)

    expected = pd.DataFrame([[1, 7, 3, 2, 2.0], [2, 3, 2, 1, 2.0]], columns=HISTORY_COLUMNS).astype(
        model.history_.dtypes.to_dict()
    )
    pd.testing.assert_frame_equal(model.history_, expected)
    np.testing.assert_array_equal(model.labels_, [0, 0, 2, 2, -1, 1, 1])
    assert model.n_clusters_ == 3
    np.testing.assert_allclose(model.cluster_centers_, [[0.5], [32.5], [12.5]])


@pytest.mark.parametrize(
    ("groups", "hand_mean"),
    [
        (
            [0, 0, 0, 0, 1, 1, 1],
            (30 / 43 + 59 / 83 + 29 / 53 + 7 / 22 + 6 / 29 + 13 / 17 + 40 / 53),
        ),
        (
            [0, 0, 1, 1, 1, 2, 2],
            (43 / 46 + 40 / 43 + 8 / 21 + 17 / 27 + 6 / 23 + 47 / 50 + 50 / 53),
        ),
        ([0, 0, 1, 1, 2, 3, 3], (23 / 25 + 21 / 23 + 7 / 10 + 4 / 7 + 0 + 10 / 11 + 11 / 12)),
    ],
)
def test_hand_trace_silhouettes_agree_with_sklearn(groups, hand_mean):
    """The trace's hand arithmetic, checked against scikit-learn's silhouette."""
    assert silhouette_score(LINE, groups) == pytest.approx(hand_mean / 7)


def test_hand_trace_cluster_silhouettes_agree_with_sklearn():
    s = silhouette_samples(LINE, [0, 0, 1, 1, 1, 2, 2])
    assert s[:2].mean() == pytest.approx((43 / 46 + 40 / 43) / 2)
    assert s[2:5].mean() == pytest.approx((8 / 21 + 17 / 27 + 6 / 23) / 3)
    assert s[2:5].mean() < 0.5 < s[5:].mean()


def test_window_converged_averages_over_window():
    scores = [0.1, 0.2, 0.3, 0.25]
    assert window_converged(scores, 1)  # 0.25 <= 0.3
    assert not window_converged(scores, 2)  # (0.3 + 0.25) / 2 = 0.275 > (0.2 + 0.3) / 2
    assert not window_converged(scores, 4)  # only one full window so far
    assert window_converged([0.5, 0.5], 1)  # no improvement is not improvement


def test_candidate_ks_capped_by_distinct_items_and_max_k():
    sample = np.repeat(np.arange(4.0), 3)[:, None]  # 12 rows, 4 distinct
    assert candidate_ks(sample, step_size=1, max_k=300) == [2, 3, 4]
    assert candidate_ks(sample, step_size=5, max_k=300) == [2]
    assert candidate_ks(sample, step_size=1, max_k=3) == [2, 3]
    assert candidate_ks(np.arange(3.0)[:, None], step_size=1, max_k=300) == [2]


def test_same_seed_same_labels():
    X, _ = make_blobs(n_samples=200, n_features=4, centers=6, cluster_std=2.5, random_state=3)
    params = dict(sample_size=60, step_size=2, convergence_window=2, similarity_threshold=0.5)
    first = IterativeKMeans(**params, random_state=7).fit(X)
    second = IterativeKMeans(**params, random_state=7).fit_predict(X)
    assert len(first.history_) >= 2  # several samples and k-means fits, so seeding matters
    np.testing.assert_array_equal(first.labels_, second)
    assert first.labels_.dtype.kind == "i"


def test_stops_when_no_cluster_is_kept():
    model = IterativeKMeans(similarity_threshold=1.0, stop_size=5, random_state=0).fit(LINE)
    assert model.history_["clusters_kept"].tolist() == [0]
    assert np.isnan(model.history_["mean_kept_size"].iloc[0])
    assert np.all(model.labels_ == -1)
    assert model.n_clusters_ == 0
    assert model.cluster_centers_.shape == (0, 1)


def test_fewer_items_than_stop_size_are_all_outliers():
    model = IterativeKMeans(stop_size=8, random_state=0).fit(LINE)
    assert np.all(model.labels_ == -1)
    assert list(model.history_.columns) == HISTORY_COLUMNS
    assert model.history_.empty
    assert model.n_iter_ == 0


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("sample_size", -1),
        ("sample_size", 2),
        ("sample_size", 100.0),
        ("sample_size", True),
        ("step_size", 0),
        ("step_size", -5),
        ("convergence_window", 0),
        ("similarity_threshold", 1.5),
        ("similarity_threshold", -1.01),
        ("similarity_threshold", "0.5"),
        ("similarity_threshold", float("nan")),
        ("stop_size", 0),
        ("stop_size", -20),
        ("max_k", 1),
        ("max_iter", 0),
    ],
)
def test_bad_parameter_is_named(param, value):
    model = IterativeKMeans(**{param: value})
    with pytest.raises(SemclustError, match=param) as info:
        model.fit(LINE)
    assert repr(value) in str(info.value)


def test_nan_row_is_named():
    X = np.zeros((30, 2))
    X[17, 1] = np.nan
    with pytest.raises(SemclustError, match="row 17 contains NaN"):
        IterativeKMeans().fit(X)


def test_from_spec_defaults_and_overrides():
    assert from_spec("").get_params() == IterativeKMeans().get_params()
    model = from_spec("2000:2:3:0.5:100", random_state=4)
    assert (
        model.get_params()
        == IterativeKMeans(
            sample_size=2000,
            step_size=2,
            convergence_window=3,
            similarity_threshold=0.5,
            stop_size=100,
            random_state=4,
        ).get_params()
    )
    assert from_spec("::5").get_params() == IterativeKMeans(convergence_window=5).get_params()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1:2:3:0.5:20:9", "at most 5"),
        ("abc", "sample_size must be an integer, got 'abc'"),
        (":2.5", "step_size must be an integer"),
        ("::::-3", "stop_size must be an integer >= 1"),
        (":::2", "similarity_threshold"),
    ],
)
def test_from_spec_rejects_bad_args(spec, message):
    with pytest.raises(SemclustError, match=message):
        from_spec(spec)


def test_plot_iterations_draws_the_history(tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    history = IterativeKMeans(**LINE_PARAMS, random_state=0).fit(LINE).history_
    path = plot_iterations(history, tmp_path / "iterations.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
    top, middle, bottom = figures[0].axes
    np.testing.assert_array_equal(bar_heights(top), history["items_left"])
    k = len(history)
    np.testing.assert_array_equal(bar_heights(middle)[:k], history["k_fitted"])
    np.testing.assert_array_equal(bar_heights(middle)[k:], history["clusters_kept"])
    np.testing.assert_allclose(bar_heights(bottom), history["mean_kept_size"].fillna(0))


def test_every_iterkmeans_run_writes_its_iteration_history(tmp_path):
    from semclust.study.config import RunConfig
    from semclust.study.demo_corpus import make_demo_corpus
    from semclust.study.pipeline import cluster_run
    from semclust.study.workspace import Study

    csv = make_demo_corpus(tmp_path / "corpus", n_per_theme=6, seed=0)
    with Study(tmp_path / "study") as study:
        study.ingest(csv, progress=False)
        study.describe("column:alt_text")
        config = RunConfig(embedder="tfidf:10", reducer="pca:3", clusterer="iterkmeans:30:2:2:0.2:5",
                           map="none")  # fmt: skip
        run = cluster_run(study, config, progress=False)
    history = pd.read_csv(run.folder / "iterations.csv")
    labels = run.clustered()["cluster"].astype(int)
    assert history["clusters_kept"].sum() == labels.max() + 1
    assert history["items_left"].iloc[0] == len(labels)
    assert (run.folder / "iterations.png").read_bytes()[:4] == b"\x89PNG"


# The lighter settings (window 1, three iterations) only keep the ~45 API checks fast.
@parametrize_with_checks([IterativeKMeans(convergence_window=1, max_iter=3, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
