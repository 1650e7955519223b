"""Fitting on a sample and assigning the rest (``fit_sample``), the saved model, and drift."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_mutual_info_score

from semclust.core.errors import SemclustError
from semclust.stages.cluster import create_clusterer
from semclust.stages.fitted_model import (
    AUTO_FIT_ABOVE,
    AUTO_FIT_SAMPLE,
    assign,
    drift,
    fit_model,
    load_model,
    resolve_fit_sample,
    save_model,
)
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run
from semclust.study.workspace import Study


def blobs(n=1200, seed=0):
    X, y = make_blobs(n, n_features=12, centers=4, cluster_std=1.0, random_state=seed)
    return X.astype(np.float32), y


def test_resolve_fit_sample_rules():
    assert resolve_fit_sample(AUTO_FIT_ABOVE, None) is None
    assert resolve_fit_sample(AUTO_FIT_ABOVE + 1, None) == AUTO_FIT_SAMPLE
    assert resolve_fit_sample(10**7, 0) is None  # 0 = always the full fit
    assert resolve_fit_sample(500, 100) == 100
    assert resolve_fit_sample(500, 500) is None  # a "sample" of everything is a full fit
    for bad in (-1, 2.5, True, "100"):
        with pytest.raises(SemclustError, match="fit_sample"):
            resolve_fit_sample(500, bad)


def test_sample_fit_assigns_the_rest_and_recovers_the_clusters():
    X, y = blobs()
    fit = fit_model(X, PCA(5, random_state=0), create_clusterer("hdbscan:30"), fit_sample=300, seed=4)
    assert fit.fitted.sum() == 300 and fit.metrics == {"n_fitted": 300, "n_assigned": 900}
    # the assigned rows are the ones HDBSCAN never saw, and they still land in the right blob
    assert adjusted_mutual_info_score(y[~fit.fitted], fit.labels[~fit.fitted]) > 0.95
    # clusters are numbered by size within the fit, as in every run
    sizes = np.bincount(fit.labels[fit.fitted & (fit.labels >= 0)])
    assert list(sizes) == sorted(sizes, reverse=True)
    again = fit_model(X, PCA(5, random_state=0), create_clusterer("hdbscan:30"), fit_sample=300, seed=4)
    assert np.array_equal(again.fitted, fit.fitted) and np.array_equal(again.labels, fit.labels)
    other = fit_model(X, PCA(5, random_state=0), create_clusterer("hdbscan:30"), fit_sample=300, seed=5)
    assert not np.array_equal(other.fitted, fit.fitted)


def test_kmeans_assignment_equals_predict_on_the_reduced_rows():
    X, _ = blobs(400)
    fit = fit_model(X, PCA(3, random_state=0), KMeans(4, n_init=3, random_state=0), fit_sample=100, seed=0)
    raw = fit.model.clusterer.predict(fit.model.reducer.transform(X[~fit.fitted]))
    expected = [fit.model.label_map[int(r)] for r in raw]
    assert fit.labels[~fit.fitted].tolist() == expected


def test_a_clusterer_without_predict_is_refused_before_fitting():
    X, _ = blobs(200)
    with pytest.raises(SemclustError, match="cannot assign new items"):
        fit_model(X, PCA(3), AgglomerativeClustering(3), fit_sample=50)
    # without a sample it is fine
    assert fit_model(X, PCA(3), AgglomerativeClustering(3), fit_sample=0).fitted.all()


def test_saved_model_round_trips_and_reports_drift(tmp_path):
    X, _ = blobs(800)
    fit = fit_model(X, PCA(4, random_state=0), create_clusterer("hdbscan:25"), fit_sample=0)
    save_model(fit.model, tmp_path)
    model = load_model(tmp_path)
    labels, _, _ = assign(model, X[:100])
    assert (labels == fit.labels[:100]).mean() > 0.95
    same = drift(model, labels, X[:100])
    assert same["far_share"] <= 0.15  # 5% of the fitted items are "far" by construction
    moved = X[:100] + 40.0  # a different population: nowhere near any centroid
    shifted_labels, _, _ = assign(model, moved)
    assert drift(model, shifted_labels, moved)["far_share"] == 1.0
    with pytest.raises(SemclustError, match="no saved model"):
        load_model(tmp_path / "elsewhere")


def _text_study(tmp_path, n_per_topic=40):
    from PIL import Image

    topics = {"sea": "waves boat harbour sailing ocean", "city": "traffic street tower bus crowd",
              "food": "bread cheese soup kitchen dinner"}
    rows = []
    for t, (topic, words) in enumerate(topics.items()):
        for i in range(n_per_topic):
            rng = np.random.default_rng(t * 1000 + i)
            rows.append({"id": f"{topic}{i}", "image": f"{topic}{i}.png", "topic": topic,
                         "alt": " ".join(rng.choice(words.split(), size=6))})
            Image.new("RGB", (16, 16), (t * 80, i * 5, 0)).save(tmp_path / f"{topic}{i}.png")
    pd.DataFrame(rows).to_csv(tmp_path / "posts.csv", index=False)
    study = Study(tmp_path / "study")
    study.ingest(tmp_path / "posts.csv", progress=False)
    study.describe("column:alt")
    return study


def test_cluster_run_with_fit_sample_marks_items_and_reports_agreement(tmp_path):
    study = _text_study(tmp_path)
    config = RunConfig(embedder="tfidf:4", reducer="pca:3", clusterer="kmeans:3", map="none", fit_sample=45)
    run = cluster_run(study, config, progress=False)
    table = pd.read_csv(run.folder / "assignments.csv")
    assert table["fitted"].sum() == 45 and (~table["fitted"]).sum() == 75
    assert run.metrics["n_fitted"] == 45 and run.metrics["n_assigned"] == 75
    assert 0.0 <= run.metrics["fit_sample_ami_vs_full_fit"] <= 1.0
    assert adjusted_mutual_info_score(table["topic"], table["cluster"]) > 0.8
    assert json.loads((run.folder / "config.json").read_text())["fit_sample"] == 45
    assert (run.folder / "model" / "model.joblib").exists()
    study.close()


def test_cli_fit_sample_option(tmp_path):
    from typer.testing import CliRunner

    from semclust.cli import app

    _text_study(tmp_path).close()
    result = CliRunner().invoke(app, ["cluster", "--study", str(tmp_path / "study"), "--embedder", "tfidf:4",
                                      "--reducer", "pca:3", "--clusterer", "kmeans:3", "--map", "none",
                                      "--fit-sample", "60", "--quiet"])
    assert result.exit_code == 0, result.output
    with Study(tmp_path / "study") as study:
        table = pd.read_parquet(sorted((study.folder / "runs").glob("*/assignments.parquet"))[-1])
    assert table["fitted"].tolist().count(True) == 60


def test_renumber_matches_a_dict_lookup_and_marks_unmapped_labels():
    from semclust.stages.fitted_model import renumber, size_order

    rng = np.random.default_rng(3)
    labels = rng.integers(-1, 40, size=5_000)
    mapping = {old: new for old, new in size_order(labels).items() if old % 7}  # some labels unmapped
    expected = np.array([mapping.get(int(x), -1) for x in labels])
    assert np.array_equal(renumber(labels, mapping), expected)
    assert (renumber(labels, {}) == -1).all()
    assert renumber(np.array([], dtype=int), mapping).shape == (0,)


def test_the_rest_is_assigned_in_blocks_with_the_labels_of_one_call(monkeypatch):
    from semclust.stages import fitted_model

    X, _ = blobs(600)
    whole = fit_model(X, PCA(3, random_state=0), KMeans(4, n_init=3, random_state=0), fit_sample=100, seed=0)
    sizes = []
    original = fitted_model.assign
    monkeypatch.setattr(fitted_model, "ASSIGN_BLOCK", 120)
    monkeypatch.setattr(fitted_model, "assign", lambda model, rows: sizes.append(len(rows)) or original(model, rows))
    blocked = fit_model(X, PCA(3, random_state=0), KMeans(4, n_init=3, random_state=0), fit_sample=100, seed=0)
    assert sizes == [120, 120, 120, 120, 20]  # 500 unfitted rows, never all at once
    assert np.array_equal(blocked.labels, whole.labels) and np.allclose(blocked.reduced, whole.reduced)


def test_prediction_data_is_built_at_the_first_assignment_and_matches_building_it_in_fit(tmp_path):
    import hdbscan

    X, _ = blobs(seed=2)
    full = fit_model(X, PCA(5, random_state=0), create_clusterer("hdbscan:30"))
    assert full.model.clusterer._prediction_data is None  # a full fit does not pay for it
    save_model(full.model, tmp_path)
    loaded = load_model(tmp_path)
    new = X[:200] + np.float32(0.05)
    labels, strengths, reduced = assign(loaded, new)
    assert loaded.clusterer._prediction_data is not None  # built once, kept for the next chunk
    eager = hdbscan.HDBSCAN(min_cluster_size=30, prediction_data=True).fit(full.model.reducer.transform(X))
    raw, eager_strengths = hdbscan.approximate_predict(eager, reduced)
    assert np.array_equal(labels >= 0, raw >= 0)
    assert adjusted_mutual_info_score(raw, labels) == pytest.approx(1.0)
    np.testing.assert_allclose(strengths, eager_strengths)
