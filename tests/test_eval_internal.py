"""internal_indices: the same numbers as direct scikit-learn calls on the clustered points."""

from __future__ import annotations

import numpy as np
import pytest
from s_dbw import S_Dbw
from sklearn.datasets import make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.internal import INDEX_NAMES, internal_indices
from semclust.validation.evaluate.sdbw import s_dbw


@pytest.fixture
def blobs():
    X, y = make_blobs(600, n_features=3, centers=4, cluster_std=1.5, random_state=0)
    y[np.random.default_rng(0).random(600) < 0.1] = -1
    return X, y


def test_indices_equal_sklearn_on_non_outliers(blobs):
    X, y = blobs
    keep = y != -1
    result = internal_indices(X, y, sample_size=None, s_dbw_kwargs={"variant": "s-dbw"})
    assert result["n_points"] == keep.sum()
    assert result["n_outliers"] == (~keep).sum()
    assert result["n_clusters"] == 4
    assert result["silhouette_sample_size"] == keep.sum()
    assert result["silhouette"] == pytest.approx(silhouette_score(X[keep], y[keep]), abs=1e-12)
    assert result["davies_bouldin"] == pytest.approx(davies_bouldin_score(X[keep], y[keep]))
    assert result["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X[keep], y[keep]))
    reference = S_Dbw(X, y, method="Halkidi", alg_noise="filter", centr="mean", nearest_centr=True)
    assert result["s_dbw"] == pytest.approx(reference, abs=1e-9)
    assert result["reasons"] == {}
    # by default S_Dbw is appendix A.2's reading, which does not change when X is rescaled
    default = internal_indices(X, y, sample_size=None)["s_dbw"]
    assert default == pytest.approx(s_dbw(X, y, variant="halkidi"), abs=1e-12)
    assert internal_indices(50 * X, y, sample_size=None)["s_dbw"] == pytest.approx(default)


def test_silhouette_sample_is_sklearns_sample(blobs):
    X, y = blobs
    keep = y != -1
    result = internal_indices(X, y, sample_size=150, random_state=3)
    expected = silhouette_score(X[keep], y[keep], sample_size=150, random_state=3)
    assert result["silhouette"] == pytest.approx(expected, abs=1e-12)
    assert result["silhouette_sample_size"] == 150
    other_seed = internal_indices(X, y, sample_size=150, random_state=4)["silhouette"]
    assert other_seed != result["silhouette"]


@pytest.mark.parametrize("labels", [[0] * 5 + [-1] * 3, [-1] * 8])
def test_fewer_than_two_clusters_gives_none_and_reason(labels):
    X = np.random.default_rng(1).normal(size=(8, 2))
    result = internal_indices(X, labels)
    assert all(result[name] is None for name in INDEX_NAMES)
    assert set(result["reasons"]) == set(INDEX_NAMES)
    assert "fewer than 2 clusters" in result["reasons"]["s_dbw"]
    assert result["n_outliers"] == labels.count(-1)


def test_singleton_clusters_only_gives_none():
    X = np.arange(8.0).reshape(4, 2)
    result = internal_indices(X, [0, 1, 2, 3])
    assert result["silhouette"] is None
    assert "own cluster" in result["reasons"]["davies_bouldin"]


def test_sample_with_one_cluster_gives_none_for_silhouette_only():
    X = np.random.default_rng(2).normal(size=(1000, 2))
    y = np.zeros(1000, dtype=int)
    y[0] = 1
    result = internal_indices(X, y, sample_size=5, random_state=0)
    assert result["silhouette"] is None
    assert "sample" in result["reasons"]["silhouette"]
    assert result["davies_bouldin"] == pytest.approx(davies_bouldin_score(X, y))


def test_undefined_s_dbw_gives_none_and_reason():
    X, y = make_blobs(300, n_features=10, centers=3, random_state=4)
    result = internal_indices(X, y, s_dbw_kwargs={"center": "mean"})
    assert result["s_dbw"] is None
    assert "undefined" in result["reasons"]["s_dbw"]
    assert result["silhouette"] is not None


@pytest.mark.parametrize(
    ("X", "labels", "kwargs", "message"),
    [
        ([[0.0, 1.0], [np.inf, 0.0], [1.0, 1.0]], [0, 1, 1], {}, "row 1"),
        ([[0.0, 1.0], [1.0, 1.0]], [0, 1, 1], {}, "2 rows but labels has 3"),
        ([[0.0, 1.0], [1.0, 1.0]], [0, 1], {"sample_size": 1}, "sample_size"),
    ],
)
def test_bad_input_raises(X, labels, kwargs, message):
    with pytest.raises(SemclustError, match=message):
        internal_indices(X, labels, **kwargs)
