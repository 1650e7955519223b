"""The adaptive defaults: the rule by hand at each size, presets, and what a run records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semclust.core.errors import SemclustError
from semclust.stages.cluster import create_clusterer
from semclust.study.adaptive import auto_settings, settings_for
from semclust.study.config import RunConfig
from semclust.study.pipeline import adapt_to_size, reduce_and_cluster


@pytest.mark.parametrize(("n", "reducer", "clusterer"), [
    (5, "none", "kmeans:2"),            # sqrt(5/2) = 1.58 -> 2
    (29, "none", "kmeans:4"),           # sqrt(14.5) = 3.8 -> 4
    (60, "umap:5:15", "kmeans:5"),      # sqrt(30) = 5.5 -> 5 (round half to even)
    (100, "umap:5:15", "hdbscan:5"),    # sqrt(100)/2 = 5
    (700, "umap:5:15", "hdbscan:13"),   # sqrt(700)/2 = 13.2
    (10_000, "umap:10:15", "hdbscan:50"),  # the paper's setting at the paper's size
    (50_000, "umap:10:15", "hdbscan:112:50"),  # 111.8 -> 112, min_samples capped at 50
    (1_000_000, "umap:10:15", "hdbscan:500:50"),  # capped at 500
])
def test_auto_rule_worked_by_hand(n, reducer, clusterer):
    chosen = auto_settings(n)
    assert (chosen.reducer, chosen.clusterer) == (reducer, clusterer)
    assert str(n) in chosen.reason


def test_small_corpus_uses_fewer_neighbours_than_items():
    assert auto_settings(12).reducer == "none"
    assert auto_settings(40).reducer == "umap:5:15"
    assert auto_settings(31).reducer == "umap:5:15"


def pair(settings):
    return settings.reducer, settings.clusterer


def test_user_choices_win_and_arminio_preset_is_the_paper():
    assert pair(settings_for(700, "arminio")) == ("umap:10:15", "hdbscan:50")
    assert pair(settings_for(700, "auto", clusterer="kmeans:7")) == ("umap:5:15", "kmeans:7")
    assert pair(settings_for(700, "arminio", reducer="pca:5")) == ("pca:5", "hdbscan:50")
    with pytest.raises(SemclustError, match="preset"):
        settings_for(700, "bertopic")
    with pytest.raises(SemclustError, match="at least 3"):
        auto_settings(2)


def test_hdbscan_spec_takes_min_samples():
    model = create_clusterer("hdbscan:112:50")
    assert (model.min_cluster_size, model.min_samples) == (112, 50)
    assert create_clusterer("hdbscan:20").min_samples is None
    with pytest.raises(SemclustError):
        create_clusterer("hdbscan:20:x")


def test_five_items_cluster_where_the_paper_settings_fail():
    X = np.vstack([np.eye(4)[[0, 0, 0]], np.eye(4)[[1, 1]]]).astype(np.float32) + 0.01
    with pytest.raises(SemclustError, match="components need more than 5 items"):
        reduce_and_cluster(X, RunConfig(preset="arminio"))
    labels, _, _ = reduce_and_cluster(X, RunConfig())
    assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]


def test_adapt_to_size_logs_the_choice(caplog):
    with caplog.at_level("INFO"):
        config = adapt_to_size(RunConfig(), 700)
    assert (config.reducer, config.clusterer) == ("umap:5:15", "hdbscan:13")
    assert "hdbscan:13" in caplog.text and "sqrt(n)/2" in caplog.text


def test_run_records_the_chosen_settings(tmp_study, tmp_path):
    import pandas as pd

    from semclust.study.pipeline import cluster_run

    rng = np.random.default_rng(0)
    words = [["river", "flood", "rain"], ["cat", "dog", "pet"], ["vote", "ballot", "party"]]
    texts = [" ".join(rng.choice(words[i % 3], 3)) + f" w{i}" for i in range(45)]
    pd.DataFrame({"id": range(45), "text": texts}).to_csv(tmp_path / "t.csv", index=False)
    tmp_study.ingest(tmp_path / "t.csv", progress=False)
    tmp_study.describe("column:text")
    run = cluster_run(tmp_study, RunConfig(embedder="tfidf:3", reducer="none", map="none"), progress=False)
    saved = json.loads((run.folder / "config.json").read_text())
    assert (saved["reducer"], saved["clusterer"], saved["preset"]) == ("none", "kmeans:5", "auto")
