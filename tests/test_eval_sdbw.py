"""S_Dbw: against the s-dbw package, a hand-worked example and a literal transcription."""

from __future__ import annotations

import math

import numpy as np
import pytest
from s_dbw import S_Dbw
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs

from semclust.core.errors import SemclustError
from semclust.validation.evaluate import sdbw
from semclust.validation.evaluate.sdbw import UndefinedIndexError, count_within, s_dbw


def _blobs(n, dim, k, seed, outlier_share=0.05, spread=2.0):
    X, y = make_blobs(n, n_features=dim, centers=k, cluster_std=spread, random_state=seed)
    y[np.random.default_rng(seed).random(n) < outlier_share] = -1
    return X, y


def _package(X, y, nearest):
    return S_Dbw(X, y, method="Halkidi", alg_noise="filter", centr="mean", nearest_centr=nearest)


@pytest.mark.parametrize(
    ("n", "dim", "k", "seed"),
    [(400, 2, 3, 0), (600, 2, 8, 1), (500, 5, 4, 2), (700, 10, 6, 3), (300, 3, 2, 4)],
)
def test_nearest_centre_matches_package(n, dim, k, seed):
    X, y = _blobs(n, dim, k, seed)
    assert s_dbw(X, y, variant="s-dbw") == pytest.approx(_package(X, y, nearest=True), abs=1e-9)


@pytest.mark.parametrize(("n", "k", "seed"), [(400, 3, 5), (500, 4, 6), (300, 2, 7)])
def test_mean_centre_matches_package_in_low_dimension(n, k, seed):
    X, y = _blobs(n, 2, k, seed)
    package = _package(X, y, nearest=False)
    assert s_dbw(X, y, variant="s-dbw", center="mean") == pytest.approx(package, abs=1e-9)


def test_hand_worked_two_clusters():
    # A = {0, 1, 2}, B = {3, 4, 5} on a line; centres 1 and 4 (means = nearest members).
    # s-dbw: std_A = std_B = sqrt(2/3), std(S) = sqrt(35/12); Scat = sqrt(2/3)/sqrt(35/12)
    #   = sqrt(8/35); radius = sqrt(2 sqrt(2/3)) / 2 = 0.639: one point at each centre,
    #   two (2 and 3) at the midpoint 2.5, so Dens_bw = (2/1 + 2/1) / (2 * 1) = 2.
    # halkidi: variances 2/3, 35/12 -> Scat = 8/35; radius = sqrt(4/3) / 2 = 0.577:
    #   again 1 point at each centre (also counting the other cluster), 2 at 2.5.
    X = np.arange(6.0)[:, None]
    y = [0, 0, 0, 1, 1, 1]
    assert s_dbw(X, y, variant="s-dbw") == pytest.approx(2 + math.sqrt(8 / 35), abs=1e-12)
    assert s_dbw(X, y, variant="s-dbw", center="mean") == pytest.approx(2 + math.sqrt(8 / 35))
    assert s_dbw(X, y, variant="halkidi") == pytest.approx(2 + 8 / 35, abs=1e-12)
    assert s_dbw(X, y) == pytest.approx(2 + 8 / 35, abs=1e-12)  # the paper's A.2 is the default
    assert _package(X, np.array(y), nearest=False) == pytest.approx(2 + math.sqrt(8 / 35))


def _appendix_a2(X, y, center):
    """Zhang & Leung appendix A.2 written out loop by loop (variance vectors, c_i U c_j)."""
    ids = sorted(set(y) - {-1})
    members = {i: X[y == i] for i in ids}
    means = {i: m.mean(axis=0) for i, m in members.items()}
    if center == "nearest":
        v = {i: m[np.argmin(np.linalg.norm(m - means[i], axis=1))] for i, m in members.items()}
    else:
        v = means
    n = len(ids)
    sigma = {i: np.var(m, axis=0) for i, m in members.items()}
    stdev = math.sqrt(sum(np.linalg.norm(s) for s in sigma.values())) / n

    def density(u, i, j):
        pts = np.vstack([members[i], members[j]])
        return sum(1 for x in pts if np.linalg.norm(x - u) <= stdev)

    dens_bw = 0.0
    for i in ids:
        for j in ids:
            if i != j:
                u = (v[i] + v[j]) / 2
                dens_bw += density(u, i, j) / max(density(v[i], i, j), density(v[j], i, j))
    dens_bw /= n * (n - 1)
    scat = (
        sum(np.linalg.norm(s) for s in sigma.values())
        / n
        / np.linalg.norm(np.var(X[y != -1], axis=0))
    )
    return dens_bw + scat


@pytest.mark.parametrize(
    ("dim", "seed", "center"), [(2, 0, "mean"), (2, 1, "nearest"), (4, 2, "nearest")]
)
def test_halkidi_variant_matches_appendix_transcription(dim, seed, center):
    # overlapping blobs, so that the other cluster's points count at a centre
    X, y = _blobs(240, dim, 4, seed, spread=3.0)
    expected = _appendix_a2(X, y, center)
    assert s_dbw(X, y, variant="halkidi", center=center) == pytest.approx(expected, abs=1e-12)


def test_default_variant_is_scale_invariant_and_package_variant_is_not():
    X, y = _blobs(500, 2, 8, 1)
    for scale in (0.01, 100.0):
        assert s_dbw(scale * X, y) == pytest.approx(s_dbw(X, y), rel=1e-9)
        assert s_dbw(scale * X, y, variant="halkidi") == pytest.approx(s_dbw(X, y), rel=1e-9)
        package = s_dbw(scale * X, y, variant="s-dbw")
        assert package != pytest.approx(s_dbw(X, y, variant="s-dbw"), abs=1e-3)


def test_outliers_and_label_names_do_not_matter():
    X, y = _blobs(300, 3, 3, 8, outlier_share=0.0)
    far = np.full((20, 3), 1e3)
    with_noise = s_dbw(np.vstack([X, far]), np.r_[y, np.full(20, -1)])
    renamed = s_dbw(X, np.array([10, 4, 7])[y])
    assert with_noise == pytest.approx(s_dbw(X, y), abs=1e-12)
    assert renamed == pytest.approx(s_dbw(X, y), abs=1e-12)


def test_mean_centres_in_ten_dimensions_are_undefined_like_the_package():
    X, y = _blobs(400, 10, 4, 9, outlier_share=0.0)
    with pytest.raises(ValueError):
        _package(X, y, nearest=False)
    with pytest.raises(UndefinedIndexError, match="center='nearest'"):
        s_dbw(X, y, center="mean")


def test_count_within_matches_brute_force_including_points_on_the_radius():
    grid = np.array([[a, b] for a in range(-3, 4) for b in range(-3, 4)], dtype=float)
    queries = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, -2.0]])
    for radius in (1.0, 2.0, math.sqrt(2.0), 2.5):
        expected = (cdist(grid, queries) <= radius).sum(axis=0)
        np.testing.assert_array_equal(count_within(grid, queries, radius), expected)


def test_blocked_computation_gives_the_same_value(monkeypatch):
    X, y = _blobs(500, 4, 5, 10)
    whole = {v: s_dbw(X, y, variant=v) for v in ("halkidi", "s-dbw")}
    monkeypatch.setattr(sdbw, "_BLOCK_ENTRIES", 7)
    for variant, value in whole.items():
        assert s_dbw(X, y, variant=variant) == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize(
    ("X", "labels", "message"),
    [
        ([[0.0], [1.0], [np.nan], [3.0]], [0, 0, 1, 1], "row 2"),
        ([[0.0], [1.0], [2.0]], [0, 1], "3 rows but labels has 2"),
        ([[0.0], [1.0], [2.0]], [0, 0, -1], "at least 2 clusters"),
        ([[0.0], [1.0], [2.0]], [0, 1.5, 1], "row 1 holds 1.5"),
        ([0.0, 1.0, 2.0], [0, 1, 1], "2-D"),
    ],
)
def test_bad_input_is_named(X, labels, message):
    with pytest.raises(SemclustError, match=message):
        s_dbw(X, labels)


def test_unknown_options_are_rejected():
    X, y = _blobs(50, 2, 2, 0)
    with pytest.raises(SemclustError, match="variant"):
        s_dbw(X, y, variant="tong")
    with pytest.raises(SemclustError, match="center"):
        s_dbw(X, y, center="median")
