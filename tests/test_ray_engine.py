"""``--engine ray``: embedding on a local Ray instance with two workers gives the local run's vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install 'semclust[ray]'")

from semclust.core.errors import SemclustError  # noqa: E402
from semclust.stages.embed import create_text_embedder  # noqa: E402
from semclust.stages.embed.ray_engine import RayEmbedder  # noqa: E402
from semclust.study.config import RunConfig  # noqa: E402

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
    from semclust.study.pipeline import cluster_run

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


@pytest.mark.slow
def test_semclust_embed_with_the_ray_engine_caches_the_local_vectors(local_ray, tmp_study, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from semclust.cli import app
    from semclust.core.store import text_hash

    addresses, ray_embed = [], RayEmbedder.embed_texts

    def spy(self, texts):
        addresses.append(self.address)
        return ray_embed(self, texts)

    monkeypatch.setattr(RayEmbedder, "embed_texts", spy)
    pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS}).to_csv(tmp_path / "t.csv", index=False)
    tmp_study.ingest(tmp_path / "t.csv", progress=False)
    tmp_study.describe("column:text")
    args = ["embed", "--study", tmp_study.folder, "--engine", "ray", "--engine-address", "auto"]
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert addresses == ["auto"]  # the fixture's instance is already up, so "auto" is not dialled
    texts = tmp_study.descriptions().tolist()  # the texts as stored (stripped)
    local = create_text_embedder("st:all-MiniLM-L6-v2", progress=False).embed_texts(texts)
    hashes = pd.Index([text_hash(t) for t in texts])
    found, cached = tmp_study.store.get_matrix("text_embeddings", "st:all-MiniLM-L6-v2", hashes)
    assert found.all() and np.allclose(cached, local, atol=1e-5)  # under the local run's cache key
