"""The notebook API: blocking calls inside a running loop, DataFrames in and out, transform, display."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pandas as pd
import pytest

from fake_llm_server import FakeLLMServer, write_images
from local_embeddings import EmbeddingsServer
from semclust import DescribeOptions, SemclustError, Study

TOPICS = {"sea": ["waves", "boat", "harbour", "sailing", "ocean"],
          "city": ["traffic", "street", "tower", "bus", "crowd"],
          "food": ["bread", "cheese", "soup", "kitchen", "dinner"]}


def topic_vector(text: str) -> list[float]:
    words = text.lower().split()
    return [float(sum(w in vocab for w in words)) for vocab in TOPICS.values()] + [1.0]


@pytest.fixture
def embeddings(monkeypatch):
    with EmbeddingsServer(topic_vector) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        yield server


def posts(tmp_path, n_per_topic=12, seed=0, prefix="p"):
    """A DataFrame of posts with images (path_col), ids (post_id) and topical captions."""
    rng = np.random.default_rng(seed)
    pairs = write_images(tmp_path / f"images-{prefix}", n_per_topic * len(TOPICS), size=(48, 32), seed=seed)
    rows = []
    for i, (_, path) in enumerate(pairs):
        topic = list(TOPICS)[i % len(TOPICS)]
        rows.append({"post_id": f"{prefix}{i}", "path_col": path, "topic": topic,
                     "caption": " ".join(rng.choice(TOPICS[topic], size=5))})
    return pd.DataFrame(rows)


def test_add_takes_a_dataframe_with_named_columns(tmp_path):
    df = posts(tmp_path, n_per_topic=2)
    with Study(tmp_path / "study") as study:
        summary = study.add(df, image="path_col", id="post_id", text="caption")
        assert summary.n_ok == 6
        items = study.items()
        assert items["id"].tolist() == df["post_id"].tolist()
        assert items["image"].tolist() == df["path_col"].tolist()
        assert items["topic"].tolist() == df["topic"].tolist()  # other columns are kept
        assert study.description_source().describer == "column:caption"
        with pytest.raises(SemclustError, match="image='nope': the DataFrame has no such column"):
            study.add(df, image="nope")
        with pytest.raises(SemclustError, match="both a 'id' column and id='post_id'"):
            study.add(df.assign(id="x"), image="path_col", id="post_id")


def test_add_without_ids_numbers_rows_after_the_study_and_keeps_a_named_index(tmp_path):
    df = posts(tmp_path, n_per_topic=1).drop(columns="post_id")
    with Study(tmp_path / "study") as study:
        study.add(df, image="path_col")
        study.add(df.iloc[:2], image="path_col")  # a second batch must not overwrite row0, row1
        assert study.items()["id"].tolist() == ["row0", "row1", "row2", "row3", "row4"]
        study.add(df.set_index(pd.Index(["a", "b", "c"], name="handle")), image="path_col")
        assert study.items()["id"].tolist()[-3:] == ["a", "b", "c"]


def test_add_takes_an_arrow_table(tmp_path):
    import pyarrow as pa

    df = posts(tmp_path, n_per_topic=1)
    with Study(tmp_path / "study") as study:
        study.add(pa.Table.from_pandas(df), image="path_col", id="post_id")
        assert study.items()["id"].tolist() == df["post_id"].tolist()


def test_add_takes_a_polars_dataframe(tmp_path):
    pl = pytest.importorskip("polars")
    df = posts(tmp_path, n_per_topic=1)
    with Study(tmp_path / "study") as study:
        study.add(pl.from_pandas(df), image="path_col", id="post_id")
        assert study.items()["id"].tolist() == df["post_id"].tolist()


def test_add_takes_text_only_rows(tmp_path):
    df = pd.DataFrame({"id": ["a", "b"], "text": ["waves boat", "bread soup"]})
    with Study(tmp_path / "study") as study:
        study.add(df, text="text")
        assert study.descriptions().tolist() == ["waves boat", "bread soup"]


def test_blocking_and_async_methods_work_inside_a_running_event_loop(tmp_path, monkeypatch):
    """What a Jupyter cell does: the kernel's loop is running while the cell calls the API."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    df = posts(tmp_path, n_per_topic=2)
    with Study(tmp_path / "study") as study, FakeLLMServer() as server:
        study.add(df, image="path_col", id="post_id")
        options = DescribeOptions(base_url=server.openai_base_url, max_side=32)

        async def cell():
            asyncio.get_running_loop()  # we are inside a loop, like a notebook
            blocking = study.describe("openai:gpt-4o-mini", options=options, progress=False)
            again = await study.adescribe("openai:gpt-4o-mini", options=options, progress=False)
            ids, matrix = await study.aembed("tfidf:3", progress=False)
            return blocking, again, ids, matrix

        blocking, again, ids, matrix = asyncio.run(cell())
        assert study.descriptions().notna().all()
    assert blocking.ok == 6 and len(server.requests) == 6
    assert again.requested == 0 and again.cached == 6  # the async twin reused every description
    assert len(ids) == 6 and matrix.shape[0] == 6


def _clustered_study(tmp_path):
    study = Study(tmp_path / "study")
    study.add(posts(tmp_path), image="path_col", id="post_id", text="caption")
    run = study.cluster(embedder="openai:text-embedding-3-small", reducer="pca:2", clusterer="kmeans:3",
                        map="none", progress=False)
    return study, run


def test_cluster_returns_dataframes_and_transform_places_new_posts(tmp_path, embeddings, caplog):
    study, run = _clustered_study(tmp_path)
    table = run.assignments
    assert isinstance(table, pd.DataFrame) and isinstance(run.clusters, pd.DataFrame)
    topic_of_cluster = table.groupby("cluster")["topic"].agg(lambda s: s.mode()[0]).to_dict()
    assert sorted(topic_of_cluster.values()) == sorted(TOPICS)
    fitted_texts = sum(len(texts) for _, texts in embeddings.requests)

    new = posts(tmp_path, n_per_topic=2, seed=7, prefix="new")
    result = run.transform(new, image="path_col", id="post_id")
    assert result["id"].tolist() == new["post_id"].tolist()
    assert result["fitted"].tolist() == [False] * 6  # assigned, not fitted
    assert [topic_of_cluster[c] for c in result["cluster"]] == new["topic"].tolist()
    assert result.attrs["drift"]["far_share"] == 0.0 and result.attrs["drift"]["outlier_share"] == 0.0
    assert sum(len(texts) for _, texts in embeddings.requests) - fitted_texts == 6  # only the new captions were embedded
    assert set(new["post_id"]) <= set(study.items()["id"])  # they joined the study
    saved = sorted((run.folder / "transform").glob("*.csv"))
    assert len(saved) == 1 and len(pd.read_csv(saved[0])) == 6

    off_topic = pd.DataFrame({"post_id": ["x1", "x2"], "path_col": new["path_col"][:2],
                              "caption": ["quantum lattice spin " * 3, "lattice spin quantum " * 3]})
    with caplog.at_level(logging.WARNING):
        drifted = study.load_run(run.id).transform(off_topic, image="path_col", id="post_id")
    assert drifted.attrs["drift"]["far_share"] == 1.0
    assert drifted["far_from_clusters"].all()
    assert "drift from the run" in caplog.text
    study.close()


def test_transform_refuses_corpus_dependent_embeddings_and_runs_without_a_study(tmp_path):
    from semclust.study.runs import Run

    study = Study(tmp_path / "study")
    study.add(posts(tmp_path, n_per_topic=4), image="path_col", id="post_id", text="caption")
    run = study.cluster(embedder="tfidf:3", reducer="pca:2", clusterer="kmeans:3", map="none", progress=False)
    with pytest.raises(SemclustError, match="depends on the whole corpus"):
        run.transform(posts(tmp_path, 1, seed=3, prefix="n"), image="path_col", id="post_id")
    with pytest.raises(SemclustError, match="loaded without its study"):
        Run.load(study.folder).transform(pd.DataFrame())
    study.close()


def test_cluster_settings_are_checked_by_name(tmp_path):
    with Study(tmp_path / "study") as study:
        study.add(posts(tmp_path, n_per_topic=2), image="path_col", id="post_id", text="caption")
        with pytest.raises(SemclustError, match="'clustrer' \\(did you mean 'clusterer'\\?\\)"):
            study.cluster(clustrer="kmeans:3")


def test_runs_and_clusters_render_as_escaped_image_grids(tmp_path, capsys):
    df = posts(tmp_path, n_per_topic=4)
    df.loc[0, "caption"] = "waves boat <script>alert('x')</script> ocean"
    with Study(tmp_path / "study") as study:
        study.add(df, image="path_col", id="post_id", text="caption")
        run = study.cluster(embedder="tfidf:3", reducer="pca:2", clusterer="kmeans:3", map="none", progress=False)
        html = run._repr_html_()
        assert html.count("<img src=\"data:image/jpeg;base64,") == 12
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert f"run {run.id}" in html and "Cluster 0" in html
        cluster = run.cluster(0)
        assert cluster.size == int((run.assignments["cluster"] == 0).sum())
        one = cluster._repr_html_()
        assert "Cluster 0" in one and "Cluster 1" not in one
        keyword = run.clusters.set_index("cluster").loc[0, "keywords"][0][0]
        assert keyword in one
        run.show()  # outside IPython: one line of text
        assert f"<Run {run.id}: 12 items, 3 clusters" in capsys.readouterr().out
        with pytest.raises(SemclustError, match="no cluster 7"):
            run.cluster(7)
