"""assign_on_ray: two local Ray workers place new items exactly as one process does, in order."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from semclust.core.errors import MissingDependencyError, SemclustError
from semclust.stages.cluster import create_clusterer
from semclust.stages.fitted_model import assign, fit_model, save_model
from semclust.stages.reduce import create_reducer
from semclust.study.ray_assign import assign_on_ray

#: Above UMAP's 4,096-item "small data" limit, so its transform searches a pynndescent index
#: (the part whose scratch array two workers sharing one model copy would race on).
FIT = 4_500
#: Uneven chunks, the largest first, so they finish out of order on two workers.
CHUNKS = [2_500, 300, 1_700, 1_500]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    X, _ = make_blobs(FIT + sum(CHUNKS), n_features=24, centers=6, cluster_std=2.0, random_state=3)
    X = X.astype(np.float32)
    fit = fit_model(X[:FIT], create_reducer("umap:5:15", random_state=0), create_clusterer("hdbscan:40"),
                    fit_sample=0)
    folder = tmp_path_factory.mktemp("run")
    save_model(fit.model, folder)
    return fit.model, folder, X[FIT:]


def split(X: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    return np.split(X, np.cumsum(sizes)[:-1])


@pytest.mark.slow
def test_two_workers_give_the_one_process_labels_in_input_order(local_ray, fitted, tmp_path):
    model, folder, new = fitted
    whole_labels, _, _ = assign(model, new)
    chunks = split(new, CHUNKS)
    per_chunk = [assign(model, chunk) for chunk in chunks]
    for number in (1, 3):  # these two are read by the workers from .npy files
        np.save(tmp_path / f"part{number}.npy", chunks[number])
        chunks[number] = tmp_path / f"part{number}.npy"
    labels, strengths = assign_on_ray(folder, iter(chunks), workers=2)
    assert len(set(whole_labels.tolist())) >= 4  # several clusters, so a reordering would show
    # bit for bit what one process gives chunk by chunk, labels and strengths
    assert np.array_equal(labels, np.concatenate([c[0] for c in per_chunk]))
    assert np.array_equal(strengths, np.concatenate([c[1] for c in per_chunk]))
    # one call over all rows draws UMAP's neighbour search from one random stream, chunks from
    # one each: 1 item in 6,000 lands elsewhere (umap-learn 0.5, pynndescent 0.7)
    assert np.mean(labels == whole_labels) >= 0.999


@pytest.mark.slow
def test_a_matrix_is_cut_into_chunks_of_the_given_rows(local_ray, fitted):
    model, _, new = fitted
    per_chunk = [assign(model, new[start:start + 1_000]) for start in range(0, len(new), 1_000)]
    labels, strengths = assign_on_ray(model, new, workers=2, chunk_rows=1_000)
    assert np.array_equal(labels, np.concatenate([c[0] for c in per_chunk]))
    assert np.array_equal(strengths, np.concatenate([c[1] for c in per_chunk]))


def test_without_ray_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"semclust\[ray\]"):
        assign_on_ray(tmp_path, np.zeros((3, 4), dtype=np.float32))


def test_nothing_to_assign_is_an_error(local_ray, fitted):
    with pytest.raises(SemclustError, match="no new items"):
        assign_on_ray(fitted[0], iter([]), workers=1)
