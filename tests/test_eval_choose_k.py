"""Marginal-gain rule for K: a hand-made S_Dbw sequence, the clustering loop, bad grids."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from figure_capture import capture_figures, line_data
from semclust.core.errors import SemclustError
from semclust.validation.evaluate.marginal_gain import choose_k, marginal_gain, pick_k, s_dbw_by_k
from semclust.validation.evaluate.plots import plot_marginal_gain
from semclust.validation.evaluate.sdbw import s_dbw

# K:      2     4     6     9      12
# S_Dbw:  1.0   0.7   0.6   0.57   0.565
# gain:   0.15  0.05  0.01  0.0017  -    (|dS| / dK to the next K, uneven steps)
HAND_MADE = {12: 0.565, 2: 1.0, 6: 0.6, 4: 0.7, 9: 0.57}


def test_marginal_gain_on_hand_made_sequence():
    table = marginal_gain(HAND_MADE)
    assert list(table["k"]) == [2, 4, 6, 9, 12]
    assert np.isnan(table["gain"].iloc[-1])
    np.testing.assert_allclose(table["gain"].iloc[:-1], [0.15, 0.05, 0.01, 0.005 / 3])


def test_pick_k_stops_where_going_on_gains_less_than_the_threshold():
    table = marginal_gain(HAND_MADE)
    assert pick_k(table, 0.01 + 1e-9) == 6
    assert pick_k(table, 0.01 - 1e-9) == 9
    assert pick_k(table, 0.1) == 4
    assert pick_k(table, 1e-6) is None


def test_gain_uses_absolute_change():
    table = marginal_gain({2: 0.5, 3: 0.8, 4: 0.795})
    np.testing.assert_allclose(table["gain"].iloc[:-1], [0.3, 0.005])
    assert pick_k(table) == 3


def _known_k(true_k: int, dim: int, seed: int) -> np.ndarray:
    return make_blobs(300, n_features=dim, centers=true_k, center_box=(-20, 20),
                      random_state=seed)[0]  # fmt: skip


def test_the_rule_finds_the_number_of_blobs_at_any_scale():
    X = _known_k(5, 10, 2)
    for scale in (1.0, 0.05):  # the paper's absolute 0.01 needs a scale-invariant S_Dbw
        assert choose_k(scale * X, range(2, 10)).k == 5, scale
    assert choose_k(_known_k(6, 8, 3), range(2, 10)).k == 6
    # the package's variant is not scale-invariant: shrinking the data moves its K
    assert choose_k(0.05 * X, range(2, 10), s_dbw_kwargs={"variant": "s-dbw"}).k != 5


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(300, n_features=2, centers=4, cluster_std=1.0, random_state=0)
    return X


def test_s_dbw_by_k_uses_seeded_kmeans(blobs):
    scores = s_dbw_by_k(blobs, [3, 2], random_state=1)
    assert list(scores.index) == [2, 3]
    for k in (2, 3):
        labels = KMeans(n_clusters=k, random_state=1).fit_predict(blobs)
        assert scores[k] == pytest.approx(s_dbw(blobs, labels), abs=1e-12)


def test_choose_k_with_custom_clusterer(blobs):
    calls = []

    def fit_predict(X, k):
        calls.append(k)
        return KMeans(n_clusters=k, random_state=0, n_init=1).fit_predict(X)

    choice = choose_k(blobs, [2, 3, 4, 5], fit_predict=fit_predict, threshold=0.05)
    assert calls == [2, 3, 4, 5]
    assert list(choice.table.columns) == ["k", "s_dbw", "gain"]
    assert choice.table["s_dbw"].iloc[2] == pytest.approx(s_dbw(blobs, fit_predict(blobs, 4)))
    assert choice.k == pick_k(choice.table, 0.05)
    assert choice.threshold == 0.05


def test_clusterer_returning_one_cluster_is_named(blobs):
    with pytest.raises(SemclustError, match="at K=3"):
        choose_k(blobs, [3], fit_predict=lambda X, k: np.zeros(len(X), dtype=int))


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ([], "empty"),
        ([1, 2], "K=1 is outside"),
        ([2, 300], "K=300 is outside"),
        ([2, 3, 3], "repeats"),
        ([2, 2.5], "whole numbers"),
    ],
)
def test_bad_k_grid(blobs, grid, message):
    with pytest.raises(SemclustError, match=message):
        choose_k(blobs, grid)


def test_bad_threshold_and_scores(blobs):
    with pytest.raises(SemclustError, match="threshold"):
        choose_k(blobs, [2, 3], threshold=0)
    with pytest.raises(SemclustError, match="K=3"):
        marginal_gain({2: 0.5, 3: float("nan")})
    with pytest.raises(SemclustError, match="at least one K"):
        marginal_gain({})


def test_nan_in_x_is_named(blobs):
    X = blobs.copy()
    X[7, 1] = np.nan
    with pytest.raises(SemclustError, match="row 7"):
        choose_k(X, [2, 3])


def test_plot_draws_the_table_threshold_and_choice(tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    table = marginal_gain(HAND_MADE)
    path = plot_marginal_gain(table, tmp_path / "sub" / "gain.png", chosen_k=6)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    top, bottom = figures[0].axes
    (k, s), chosen_top = line_data(top)
    np.testing.assert_array_equal(k, table["k"])
    np.testing.assert_allclose(s, table["s_dbw"])
    (k, gain), threshold, chosen = line_data(bottom)
    np.testing.assert_allclose(gain, table["gain"])
    assert set(threshold[1]) == {0.01} and set(chosen[0]) == set(chosen_top[0]) == {6}
