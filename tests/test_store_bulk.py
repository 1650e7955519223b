"""Bulk vector reads: the scan path (many keys) and the lookup path (few) give the same rows."""

from __future__ import annotations

import numpy as np

from semclust.core.store import StudyStore


def test_get_matrix_matches_keys_in_order_with_repeats_and_misses(tmp_path):
    store = StudyStore(tmp_path)
    try:
        keys = [f"k{i}" for i in range(6000)]
        vectors = np.random.default_rng(0).normal(size=(6000, 4)).astype(np.float32)
        store.put_vectors("text_embeddings", "e", keys, vectors)
        store.put_vectors("text_embeddings", "other", ["k1"], np.ones((1, 4), dtype=np.float32))
        wanted = ["k5", "missing", "k5", "k5999", "k0"]
        for ask in (wanted, wanted + keys):  # 5 distinct keys: lookups; 6001 distinct: one scan
            found, matrix = store.get_matrix("text_embeddings", "e", ask)
            assert found[:5].tolist() == [True, False, True, True, True]
            assert np.array_equal(matrix[[0, 2, 3, 4]], vectors[[5, 5, 5999, 0]])
            assert not matrix[1].any()
        found, matrix = store.get_matrix("text_embeddings", "e", keys)
        assert found.all() and np.array_equal(matrix, vectors)
        assert store.get_vectors("text_embeddings", "other", ["k1", "k2"]).keys() == {"k1"}
    finally:
        store.close()
