"""``--engine ray``: embedding on a local Ray instance with two workers gives the local run's vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install 'semclust[ray]'")

from semclust.config import RunConfig  # noqa: E402
from semclust.embed import create_text_embedder  # noqa: E402
from semclust.embed.ray_engine import RayEmbedder  # noqa: E402
from semclust.errors import SemclustError  # noqa: E402

TEXTS = [f"post {i}: {['a flooded street', 'a cat on a sofa', 'protesters with placards'][i % 3]} "
         f"{'and more words ' * (i % 5)}" for i in range(48)]


@pytest.mark.slow
def test_two_ray_workers_give_the_local_vectors_in_order(local_ray):
    local = create_text_embedder("st:all-MiniLM-L6-v2", progress=False).embed_texts(TEXTS)
    remote = RayEmbedder("st:all-MiniLM-L6-v2", workers=2, batch_size=5).embed_texts(TEXTS)
    assert remote.shape == local.shape
    assert np.allclose(remote, local, atol=1e-5)  # row order kept across 10 batches on 2 workers


@pytest.mark.slow
def test_a_run_with_the_ray_engine_matches_the_local_run(local_ray, tmp_study, tmp_path):
    from semclust.pipeline import cluster_run

    pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS}).to_csv(tmp_path / "t.csv", index=False)
    tmp_study.ingest(tmp_path / "t.csv", progress=False)
    tmp_study.describe("column:text")
    base = dict(reducer="none", clusterer="kmeans:3", map="none")
    on_ray = cluster_run(tmp_study, RunConfig(engine="ray", **base), progress=False)
    tmp_study.store._execute("DELETE FROM text_embeddings")  # the local run embeds again
    local = cluster_run(tmp_study, RunConfig(**base), progress=False)
    assert np.allclose(np.load(on_ray.folder / "reduced.npy"), np.load(local.folder / "reduced.npy"), atol=1e-5)
    assert on_ray.assignments["cluster"].tolist() == local.assignments["cluster"].tolist()


def test_corpus_dependent_embedders_stay_local():
    with pytest.raises(SemclustError, match="tfidf"):
        RayEmbedder("tfidf:5").embed_texts(["a", "b"])
