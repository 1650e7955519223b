"""The reducer's parallel neighbour search: reproducible, accurate, and transform still works."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from semclust.stages.reduce import create_reducer, parallel_umap
from semclust.stages.reduce.parallel_umap import ParallelSearchUMAP, neighbour_search


@pytest.fixture
def blobs():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 16)) * 4
    X = np.vstack([c + rng.normal(size=(150, 16)) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(4), 150)


@pytest.fixture
def searches(monkeypatch):
    """Make 600 rows count as large, so the parallel search runs on a corpus a test can afford."""
    monkeypatch.setattr(parallel_umap, "SMALL_DATA", 100)
    calls = []
    original = parallel_umap.neighbour_search
    monkeypatch.setattr(parallel_umap, "neighbour_search", lambda *a: calls.append(a[-1]) or original(*a))
    return calls


def test_the_search_finds_the_exact_neighbours(blobs):
    X, _ = blobs
    indices, distances, _ = neighbour_search(X, 10, "euclidean", 0, True, 2)
    exact = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(X, return_distance=False)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, exact, strict=True)])
    assert recall > 0.98
    assert np.all(np.diff(distances, axis=1) >= -1e-6)  # sorted nearest first


def test_two_seeded_fits_give_the_same_layout_with_two_threads(blobs, searches):
    X, _ = blobs
    first = ParallelSearchUMAP(n_components=3, random_state=0, n_jobs=2).fit_transform(X)
    second = ParallelSearchUMAP(n_components=3, random_state=0, n_jobs=2).fit_transform(X)
    assert searches == [2, 2]  # both searched in parallel, not in umap-learn's single thread
    np.testing.assert_array_equal(first, second)


def test_the_named_reducer_searches_in_parallel_and_separates_the_groups(blobs, searches):
    X, truth = blobs
    model = create_reducer("umap:2:15", random_state=0)
    reduced = model.fit_transform(X)
    assert isinstance(model, ParallelSearchUMAP) and len(searches) == 1
    centre = np.array([reduced[truth == g].mean(axis=0) for g in range(4)])
    nearest_centre = np.argmin(((reduced[:, None] - centre[None]) ** 2).sum(-1), axis=1)
    assert (nearest_centre == truth).mean() > 0.99
    assert model.precomputed_knn == (None, None, None)  # a later fit on other rows searches again
    assert model.n_jobs == -1  # umap-learn's forced n_jobs=1 is undone


def test_a_saved_model_places_new_items_with_its_search_index(blobs, searches):
    X, truth = blobs
    model = pickle.loads(pickle.dumps(create_reducer("umap:2:15", random_state=0).fit(X[::2])))
    placed = model.transform(X[1::2])
    fitted = model.embedding_
    centre = np.array([fitted[truth[::2] == g].mean(axis=0) for g in range(4)])
    nearest_centre = np.argmin(((placed[:, None] - centre[None]) ** 2).sum(-1), axis=1)
    assert (nearest_centre == truth[1::2]).mean() > 0.99


def test_epochs_follow_the_size_and_an_explicit_value_wins(monkeypatch, blobs):
    X, _ = blobs
    used = []
    original = parallel_umap.umap.UMAP.fit

    def record(self, *args, **kwargs):
        used.append(self.n_epochs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(parallel_umap.umap.UMAP, "fit", record)
    monkeypatch.setattr(parallel_umap, "LARGE_N", 500)  # 600 rows are "large"
    model = ParallelSearchUMAP(n_components=2, random_state=0)
    model.fit(X)
    ParallelSearchUMAP(n_components=2, random_state=0, n_epochs=30).fit(X)
    monkeypatch.setattr(parallel_umap, "LARGE_N", 1000)
    ParallelSearchUMAP(n_components=2, random_state=0).fit(X)
    assert used == [parallel_umap.LARGE_N_EPOCHS, 30, None]
    assert model.n_epochs is None  # the parameter is left as the user gave it
