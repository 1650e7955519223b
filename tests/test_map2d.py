"""The report's map: drawn from the reduced space, reused when 2-D, sampled + transformed when large."""

from __future__ import annotations

import numpy as np
import pytest

from semclust.core.errors import SemclustError
from semclust.stages import map2d


def blobs(n_per=150, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n_per)
    return (np.eye(dim)[labels] * 10 + rng.normal(0, 0.5, (len(labels), dim))).astype(np.float32), labels


def test_two_dimensional_reduction_is_the_map():
    reduced = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    coords = map2d.map_coordinates(reduced, "umap", seed=0)
    assert np.array_equal(coords, reduced) and coords is not reduced


def test_pca_map_and_bad_names():
    X, _ = blobs(20)
    coords = map2d.map_coordinates(X, "pca", seed=0)
    assert coords.shape == (60, 2)
    assert map2d.map_coordinates(X, "none", seed=0) is None
    with pytest.raises(SemclustError, match="map must be"):
        map2d.map_coordinates(X, "tsne", seed=0)


def test_large_maps_fit_a_sample_and_place_the_rest(monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    monkeypatch.setattr(map2d, "MAP_FIT_MAX", 120)
    monkeypatch.setattr(map2d, "TRANSFORM_CHUNK", 100)
    X, labels = blobs()
    coords = map2d.map_coordinates(X, "umap", seed=0)
    assert coords.shape == (450, 2) and np.isfinite(coords).all()
    # items placed by transform land among the fitted items of their own blob
    fitted = np.zeros(len(X), dtype=bool)
    fitted[np.random.default_rng(0).choice(len(X), 120, replace=False)] = True
    knn = KNeighborsClassifier(5).fit(coords[fitted], labels[fitted])
    assert (knn.predict(coords[~fitted]) == labels[~fitted]).mean() > 0.95
