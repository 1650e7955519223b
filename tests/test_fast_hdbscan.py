"""``fast_hdbscan:N[:M]``: the same clusters as ``hdbscan:N[:M]``, selectable, never the default."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_mutual_info_score

from semclust.core.errors import SemclustError
from semclust.stages.cluster import create_clusterer
from semclust.stages.fitted_model import fit_model

pytest.importorskip("fast_hdbscan")


def test_fast_hdbscan_finds_the_clusters_hdbscan_finds():
    X, y = make_blobs(1500, n_features=5, centers=5, cluster_std=0.8, random_state=0)
    X = X.astype(np.float32)
    fast = create_clusterer("fast_hdbscan:40:10")
    assert (fast.min_cluster_size, fast.min_samples, fast.reproducible) == (40, 10, True)
    fast_labels = fast.fit_predict(X)
    reference = create_clusterer("hdbscan:40:10").fit_predict(X)
    assert adjusted_mutual_info_score(reference, fast_labels) > 0.99
    assert adjusted_mutual_info_score(y, fast_labels) > 0.95


def test_fast_hdbscan_cannot_assign_a_sample_and_bad_specs_say_so():
    X, _ = make_blobs(300, n_features=5, centers=3, random_state=0)
    with pytest.raises(SemclustError, match="cannot assign new items"):
        fit_model(X, PCA(3), create_clusterer("fast_hdbscan:20"), fit_sample=100)
    with pytest.raises(SemclustError, match="fast_hdbscan:MIN_CLUSTER_SIZE"):
        create_clusterer("fast_hdbscan:x")
