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


def own_cluster_share(coords, labels, k=10):
    from sklearn.neighbors import NearestNeighbors

    near = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords, return_distance=False)[:, 1:]
    return (labels[near] == labels[:, None]).mean()


def fitted_umap(X):
    import umap

    reducer = umap.UMAP(n_components=3, n_neighbors=15, random_state=0)
    return reducer, reducer.fit_transform(X).astype(np.float32)


def test_map_from_the_reducers_graph_keeps_each_blob_together(monkeypatch):
    X, labels = blobs()
    reducer, reduced = fitted_umap(X)
    before = reducer.graph_.copy()
    searched = []
    import umap.umap_

    monkeypatch.setattr(umap.umap_, "nearest_neighbors", lambda *a, **k: searched.append(1))
    coords = map2d.map_coordinates(reduced, "umap", seed=0, graph=reducer.graph_)
    assert coords.shape == (450, 2) and coords.dtype == np.float32 and np.isfinite(coords).all()
    assert not searched  # no second neighbour search
    assert own_cluster_share(coords, labels) > 0.99
    assert (reducer.graph_ != before).nnz == 0  # the reducer's graph (saved in the model) is untouched
    again = map2d.map_coordinates(reduced, "umap", seed=0, graph=reducer.graph_)
    assert np.array_equal(coords, again)


def test_items_outside_the_graph_are_placed_among_their_neighbours():
    X, labels = blobs()
    fitted = np.zeros(len(X), dtype=bool)
    fitted[np.random.default_rng(1).choice(len(X), 200, replace=False)] = True
    reducer, reduced_fit = fitted_umap(X[fitted])
    reduced = np.zeros((len(X), 3), dtype=np.float32)
    reduced[fitted], reduced[~fitted] = reduced_fit, reducer.transform(X[~fitted])
    coords = map2d.map_coordinates(reduced, "umap", seed=0, graph=reducer.graph_, fitted=fitted)
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(5).fit(coords[fitted], labels[fitted])
    assert (knn.predict(coords[~fitted]) == labels[~fitted]).mean() > 0.95
    # each placed item is the mean of its 5 nearest fitted items in the reduced space (by hand)
    i = np.flatnonzero(~fitted)[0]
    nearest = np.argsort(np.linalg.norm(reduced_fit - reduced[i], axis=1))[:5]
    assert np.allclose(coords[i], coords[fitted][nearest].mean(axis=0), atol=1e-5)


def test_a_graph_of_other_rows_is_an_error():
    X, _ = blobs(20)
    reducer, reduced = fitted_umap(X)
    with pytest.raises(SemclustError, match="neighbour graph"):
        map2d.map_coordinates(reduced[:30], "umap", seed=0, graph=reducer.graph_)


def test_large_graphs_are_laid_out_in_fewer_epochs():
    from semclust.stages.map2d import (
        GRAPH_MAP_EPOCHS,
        LARGE_GRAPH,
        LARGE_GRAPH_MAP_EPOCHS,
        map_epochs,
    )

    assert map_epochs(LARGE_GRAPH) == GRAPH_MAP_EPOCHS == 100
    assert map_epochs(LARGE_GRAPH + 1) == LARGE_GRAPH_MAP_EPOCHS == 50
