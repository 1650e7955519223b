"""The text route end to end: real LLaVA descriptions of real images, and the demo corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score
from typer.testing import CliRunner

from semclust.cli import app
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run, exemplar_flags, relabel_by_size
from semclust.study.runs import Run
from semclust.study.workspace import Study

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "sample" / "cifar10-llava" / "posts.csv"
needs_sample = pytest.mark.skipif(
    not SAMPLE.exists(),
    reason=f"the shared sample is absent ({SAMPLE}); it lives beside the repo in ../shared",
)


@needs_sample
def test_cli_run_on_cifar_sample_agrees_with_hidden_labels(tmp_path):
    study = tmp_path / "study"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(SAMPLE),
            "--out",
            str(study),
            "--describer",
            "column:description",
            "--clusterer",
            "hdbscan:20",
            "--map",
            "none",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    run = Run.load(study)
    table = pd.read_csv(run.folder / "assignments.csv")
    assert {"id", "image", "cluster", "probability", "description", "label"} <= set(table.columns)
    assert len(table) == 500
    ami = adjusted_mutual_info_score(table["label"], table["cluster"])
    assert ami >= 0.6, f"AMI {ami:.3f} against the CIFAR-10 labels"
    clusters = pd.read_csv(run.folder / "clusters.csv")
    assert clusters["size"].sum() == 500
    assert all(":" in k for k in clusters["keywords"] if k)
    html = (run.folder / "report.html").read_text()
    assert "Outliers" in html or -1 not in set(table["cluster"])
    config = json.loads((run.folder / "config.json").read_text())
    assert config["clusterer"] == "hdbscan:20" and config["seed"] == 0


def _demo_study(tmp_path, per_theme=8):
    from semclust.study.demo_corpus import make_demo_corpus

    csv = make_demo_corpus(tmp_path / "corpus", n_per_theme=per_theme, seed=1)
    study = Study(tmp_path / "study")
    study.ingest(csv, progress=False)
    study.describe("column:alt_text")
    return study


def test_same_seed_same_clusters_and_cached_embeddings(tmp_path):
    study = _demo_study(tmp_path)
    config = RunConfig(
        describer="column:alt_text", reducer="umap:5:10", clusterer="kmeans:6", map="none", seed=3
    )
    first = cluster_run(study, config, progress=False)
    second = cluster_run(study, config, progress=False)
    pd.testing.assert_series_equal(first.assignments["cluster"], second.assignments["cluster"])
    assert first.folder != second.folder
    assert Run.load(study.folder).id == max(first.id, second.id)
    # items without a description (corrupt/empty files in the demo) stay in the table, unclustered, with a reason
    unclustered = first.assignments[first.assignments["cluster"].isna()]
    assert len(unclustered) >= 2
    assert all(unclustered["note"].str.len() > 0)
    skipped = pd.read_csv(study.folder / "skipped.csv")
    assert set(skipped["id"]) <= set(unclustered["id"]) and len(skipped) == 2
    assert len(pd.read_csv(study.folder / "near_duplicates.csv")) >= 1  # the demo's re-encoded poster


def test_exemplars_are_the_items_nearest_each_centroid():
    import numpy as np

    reduced = np.array([[0.0], [1.0], [2.0], [10.0], [10.0], [11.0], [50.0]])
    labels = np.array([0, 0, 0, 1, 1, 1, -1])
    distance, exemplar = exemplar_flags(reduced, labels, share=0.10)
    assert distance[0] == pytest.approx(1.0) and np.isnan(distance[6])
    assert exemplar.tolist() == [False, True, False, True, False, False, False]


def test_demo_command_builds_a_report(tmp_path):
    result = CliRunner().invoke(
        app, ["demo", "--out", str(tmp_path / "demo"), "--per-theme", "12", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    run = Run.load(tmp_path / "demo" / "study")
    assert (run.folder / "report.html").stat().st_size > 10_000
    table = run.assignments.dropna(subset=["cluster"])
    table = table[table["cluster"] >= 0]
    assert adjusted_mutual_info_score(table["theme"], table["cluster"].astype(int)) >= 0.8


def test_missing_input_is_a_clear_cli_error(tmp_path):
    result = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "nowhere.csv"), "--study", str(tmp_path / "s")]
    )
    assert result.exit_code == 1
    assert "input not found" in result.output


def test_ingest_adds_to_a_study_and_input_columns_are_never_overwritten(tmp_path):
    from PIL import Image

    for name, colour in (("a.png", "red"), ("b.png", "blue"), ("c.png", "green")):
        Image.new("RGB", (40, 30), colour).save(tmp_path / name)
    pd.DataFrame({"id": ["a", "b"], "image": ["a.png", "b.png"],
                  "description": ["red square", "blue square"]}).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame({"id": ["c", "a"], "image": ["c.png", "a.png"],
                  "description": ["green square", "red square"]}).to_csv(tmp_path / "two.csv", index=False)
    study = Study(tmp_path / "study")
    study.ingest(tmp_path / "one.csv", progress=False)
    study.ingest(tmp_path / "two.csv", progress=False)
    assert study.items()["id"].tolist() == ["a", "b", "c"]
    study.describe("column:description")
    run = cluster_run(study, RunConfig(embedder="tfidf:3", reducer="none", clusterer="kmeans:2", map="none"),
                      progress=False)
    assert run.assignments["description"].tolist() == ["red square", "blue square", "green square"]
    assert "input_description" not in run.assignments.columns  # the same text once, not twice


def test_an_input_description_that_differs_from_the_description_is_kept():
    from semclust.study.pipeline import drop_echoed_description

    table = pd.DataFrame({"id": ["a", "b", "c"], "description": ["red", "a model's words", None],
                          "input_description": ["red", "post text", ""]})
    assert drop_echoed_description(table).columns.tolist() == table.columns.tolist()
    echoed = table.assign(input_description=["red", "a model's words", ""])
    assert "input_description" not in drop_echoed_description(echoed).columns


def test_clusters_are_numbered_from_the_largest():
    # sizes: 7 -> 3 items, 2 and 5 -> 2 items each (tie broken by the old label)
    assert relabel_by_size([5, 5, -1, 2, 7, 7, 7, 2]).tolist() == [2, 2, -1, 1, 0, 0, 0, 1]
