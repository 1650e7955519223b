"""GPU clustering through cuML: device resolution, the spec -> cuML parameter mapping, and a real run where cuML is present."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from semclust.core import gpu
from semclust.core.errors import SemclustError
from semclust.stages.cluster import create_clusterer
from semclust.stages.reduce import create_reducer


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(gpu, "cuml_status", lambda: "RAPIDS cuML is not installed")


@pytest.fixture
def fake_cuml(monkeypatch):
    """A stand-in cuML that records how semclust builds its estimators."""
    made = []

    def recorder(kind):
        class Estimator:
            def __init__(self, **params):
                self.kind, self.params = kind, params
                made.append(self)
        return Estimator

    modules = {
        "cuml": types.ModuleType("cuml"),
        "cuml.manifold": types.SimpleNamespace(UMAP=recorder("umap")),
        "cuml.cluster": types.SimpleNamespace(KMeans=recorder("kmeans")),
        "cuml.cluster.hdbscan": types.SimpleNamespace(HDBSCAN=recorder("hdbscan")),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(gpu, "cuml_status", lambda: None)
    return made


def test_devices_resolve_without_a_gpu(no_gpu):
    assert gpu.resolve_device("cpu") == "cpu"
    assert gpu.resolve_device("auto") == "cpu"
    with pytest.raises(SemclustError, match="--device cuda: RAPIDS cuML is not installed"):
        gpu.resolve_device("cuda")
    with pytest.raises(SemclustError, match="device must be one of"):
        gpu.resolve_device("tpu")
    import umap
    assert isinstance(create_reducer("umap:5:15", 0, device="auto"), umap.UMAP)


def test_specs_map_to_cuml_with_the_same_parameters_and_seed(fake_cuml):
    umap_gpu = create_reducer("umap:10:20", random_state=3, device="cuda")
    assert umap_gpu.kind == "umap" and umap_gpu.params == {
        "n_components": 10, "n_neighbors": 20, "metric": "cosine", "random_state": 3, "output_type": "numpy"}
    hdb = create_clusterer("hdbscan:112:50", device="cuda")
    assert (hdb.kind, hdb.params["min_cluster_size"], hdb.params["min_samples"]) == ("hdbscan", 112, 50)
    assert hdb.params["prediction_data"] is True  # fit-sample assigns with approximate_predict
    km = create_clusterer("kmeans:7", random_state=5, device="cuda")
    assert (km.kind, km.params["n_clusters"], km.params["random_state"], km.params["n_init"]) == ("kmeans", 7, 5, 10)
    assert type(create_reducer("pca:5", device="cuda")).__name__ == "PCA"  # no GPU version: stays on the CPU


def test_real_cuml_agrees_with_the_cpu():
    problem = gpu.cuml_status()
    if problem is not None:
        pytest.skip(f"no GPU clustering here: {problem}")
    from sklearn.datasets import make_blobs
    from sklearn.metrics import adjusted_mutual_info_score

    X, y = make_blobs(3000, n_features=20, centers=6, random_state=0)
    X = X.astype(np.float32)
    labels = create_clusterer("hdbscan:50", device="cuda").fit_predict(
        create_reducer("umap:5:15", random_state=0, device="cuda").fit_transform(X))
    assert adjusted_mutual_info_score(y, labels) > 0.9
    assert adjusted_mutual_info_score(y, create_clusterer("kmeans:6", 0, device="cuda").fit_predict(X)) > 0.9
