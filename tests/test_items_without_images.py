"""Items without images: a text-only CSV, and precomputed vectors (Parquet column, .npy file)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score
from typer.testing import CliRunner

from semclust.cli import app
from semclust.core.errors import SemclustError
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run, label_run, report_run
from semclust.study.runs import Run


def three_blobs(n_per: int = 20, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = np.eye(dim)[:3] * 5
    labels = np.repeat(np.arange(3), n_per)
    return (centers[labels] + rng.normal(0, 0.3, (len(labels), dim))).astype(np.float32), labels


def test_text_only_csv_runs_without_an_image_column(tmp_path):
    topics = {"flood": "river flood rain water", "cat": "cat kitten pet fur", "vote": "vote ballot party election"}
    rows = [{"id": f"p{i}", "post": f"{text} <b>{i}</b>", "topic": name}
            for i, (name, text) in enumerate(list(topics.items()) * 12)]
    pd.DataFrame(rows).to_csv(tmp_path / "posts.csv", index=False)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "posts.csv"), "--out", str(tmp_path / "s"),
                                      "--describer", "column:post", "--embedder", "tfidf:4", "--reducer", "none",
                                      "--clusterer", "kmeans:3", "--map", "pca", "--quiet"])
    assert result.exit_code == 0, result.output
    run = Run.load(tmp_path / "s")
    table = run.assignments
    assert len(table) == 36 and table["cluster"].notna().all()
    assert adjusted_mutual_info_score(table["topic"], table["cluster"]) == pytest.approx(1.0)
    html = (run.folder / "report.html").read_text()
    assert "river flood rain water" in html  # the report shows the text in place of an image
    assert "<b>7</b>" not in html and "&lt;b&gt;7&lt;/b&gt;" in html  # escaped


def test_vision_describer_on_text_only_items_says_what_to_do(tmp_study, tmp_path):
    pd.DataFrame({"id": ["a", "b"], "post": ["x", "y"]}).to_csv(tmp_path / "t.csv", index=False)
    tmp_study.ingest(tmp_path / "t.csv", progress=False)
    with pytest.raises(SemclustError, match="column:NAME"):
        tmp_study.describe("openai:gpt-4o-mini")


def test_parquet_vector_column_is_clustered_as_given(tmp_study, tmp_path):
    X, labels = three_blobs()
    pd.DataFrame({"id": [f"v{i}" for i in range(len(X))], "vec": list(X), "truth": labels}).to_parquet(
        tmp_path / "v.parquet")
    summary = tmp_study.ingest(tmp_path / "v.parquet", progress=False)
    assert summary.n_ok == len(X) and summary.n_unique_images == 0
    assert "vec" not in tmp_study.items().columns  # stored in bulk, not as JSON per item
    run = cluster_run(tmp_study, RunConfig(embedder="column:vec", reducer="none", clusterer="kmeans:3", map="none"),
                      progress=False)
    assert np.allclose(np.load(run.folder / "reduced.npy"), X)  # exactly the vectors given, in order
    assert adjusted_mutual_info_score(run.assignments["truth"], run.assignments["cluster"]) == pytest.approx(1.0)
    report_run(label_run(run))  # no descriptions at all: keywords and report still work
    assert (run.folder / "report.html").exists()


def test_npy_vectors_align_with_the_rows(tmp_study, tmp_path):
    X, labels = three_blobs(seed=1)
    pd.DataFrame({"id": [f"r{i}" for i in range(len(X))], "truth": labels}).to_csv(tmp_path / "rows.csv", index=False)
    np.save(tmp_path / "vectors.npy", X)
    tmp_study.ingest(tmp_path / "rows.csv", progress=False)
    config = RunConfig(embedder=f"npy:{tmp_path / 'vectors.npy'}", reducer="none", clusterer="kmeans:3", map="none")
    run = cluster_run(tmp_study, config, progress=False)
    assert adjusted_mutual_info_score(run.assignments["truth"], run.assignments["cluster"]) == pytest.approx(1.0)
    np.save(tmp_path / "short.npy", X[:-1])
    with pytest.raises(SemclustError, match="one row per input row"):
        cluster_run(tmp_study, RunConfig(embedder=f"npy:{tmp_path / 'short.npy'}", reducer="none",
                                         clusterer="kmeans:3", map="none"), progress=False)


def test_ragged_or_bad_vector_column_names_the_row(tmp_study, tmp_path):
    pd.DataFrame({"id": ["a", "b", "c"], "vec": [[1.0, 2.0], [1.0, 2.0], [3.0]]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(SemclustError, match="row 4 has 1 values"):
        tmp_study.ingest(tmp_path / "bad.parquet", progress=False)
    pd.DataFrame({"id": ["a", "b"], "vec": [[1.0, np.nan], [1.0, 2.0]]}).to_parquet(tmp_path / "nan.parquet")
    with pytest.raises(SemclustError, match="row 2 has NaN"):
        tmp_study.ingest(tmp_path / "nan.parquet", progress=False)
    with pytest.raises(SemclustError, match="no vector column"):
        pd.DataFrame({"id": ["a", "b", "c"], "t": ["x", "y", "z"]}).to_csv(tmp_path / "ok.csv", index=False)
        tmp_study.ingest(tmp_path / "ok.csv", progress=False)
        cluster_run(tmp_study, RunConfig(embedder="column:vec", reducer="none", clusterer="kmeans:2", map="none"),
                    progress=False)


def test_reingest_of_text_only_rows_keeps_their_order(tmp_study, tmp_path):
    pd.DataFrame({"id": ["a", "b"], "t": ["x", "y"]}).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame({"id": ["c", "a"], "t": ["z", "x2"]}).to_csv(tmp_path / "two.csv", index=False)
    tmp_study.ingest(tmp_path / "one.csv", progress=False)
    tmp_study.ingest(tmp_path / "two.csv", progress=False)
    items = tmp_study.items()
    assert items["id"].tolist() == ["a", "b", "c"] and items.set_index("id").loc["a", "t"] == "x2"


def test_a_killed_ingest_resumes_with_the_files_it_had_not_probed(tmp_study, tmp_path, make_image, monkeypatch):
    from semclust.stages import ingest as ingest_module

    paths = [make_image(tmp_path / "img" / f"{i:02d}.png", seed=i) for i in range(12)]
    pd.DataFrame({"id": [f"p{i}" for i in range(12)], "image": [str(p) for p in paths]}).to_csv(
        tmp_path / "posts.csv", index=False)
    monkeypatch.setattr(ingest_module, "INGEST_CHUNK", 5)
    real_probe, probed = ingest_module.probe_file, []

    def killed_at_the_eighth(path, **kwargs):
        if len(probed) == 7:
            raise KeyboardInterrupt
        probed.append(path)
        return real_probe(path, **kwargs)

    monkeypatch.setattr(ingest_module, "probe_file", killed_at_the_eighth)
    with pytest.raises(KeyboardInterrupt):
        tmp_study.ingest(tmp_path / "posts.csv", progress=False, workers=1)
    assert tmp_study.items()["id"].tolist() == [f"p{i}" for i in range(5)]  # the finished chunk is stored
    probed.clear()
    monkeypatch.setattr(ingest_module, "probe_file", lambda path, **kw: probed.append(path) or real_probe(path, **kw))
    summary = tmp_study.ingest(tmp_path / "posts.csv", progress=False, workers=1)
    assert sorted(probed) == [str(p.resolve()) for p in paths[5:]]  # only what the killed run had not stored
    assert summary.n_ok == 12 and tmp_study.items()["id"].tolist() == [f"p{i}" for i in range(12)]


@pytest.mark.slow
def test_many_files_are_probed_on_worker_processes_with_the_same_result(tmp_path, make_image, monkeypatch):
    from semclust.stages import ingest as ingest_module
    from semclust.study.workspace import Study

    for i in range(6):
        make_image(tmp_path / "img" / f"{i}.jpg", seed=i)
    with Study(tmp_path / "threads") as threads:
        threads.ingest(tmp_path / "img", progress=False)
        expected = threads.items()[["id", "sha256", "status"]]
    monkeypatch.setattr(ingest_module, "PROCESS_POOL_FROM", 1)
    with Study(tmp_path / "processes") as processes:
        processes.ingest(tmp_path / "img", progress=False, workers=2)
        pd.testing.assert_frame_equal(processes.items()[["id", "sha256", "status"]], expected)
        assert processes.store.images_frame()["phash"].tolist() == threads_phashes(tmp_path / "threads")


def threads_phashes(folder):
    from semclust.core.store import StudyStore

    store = StudyStore(folder)
    try:
        return store.images_frame()["phash"].tolist()
    finally:
        store.close()
