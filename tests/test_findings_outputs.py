"""``semclust analyze`` end to end: files for R/Stata, replay, report and explore pages, escaping."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from explore_corpus import make_study
from semclust.cli.main import app
from semclust.exploration.app import create_app
from semclust.study.config import RunConfig
from semclust.study.findings.clustering_noise import align, noise_table
from semclust.study.pipeline import execute_run

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    study, run = make_study(tmp_path_factory.mktemp("analyze"), 150, n_images=8, k=4)
    n = len(run.assignments)
    run.assignments["party"] = np.where(np.arange(n) % 3 == 0, HOSTILE, "D & R")
    run.assignments["created_at"] = [f"2024-0{1 + i % 3}-15" for i in range(n)]
    run.save()
    yield study, run
    study.close()


def cli(study, run, *extra):
    args = ["analyze", "--study", str(study.folder), "--run", run.id, "--by", "party", "--time", "created_at",
            "--outcome", "likes", "--model", "ols", "--bootstrap", "200", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return run.folder / "analysis"


def test_writes_tidy_tables_plots_and_the_settings_and_replays_identically(built):
    study, run = built
    folder = cli(study, run)
    manifest = json.loads((folder / "analysis.json").read_text())
    assert manifest["settings"] | {"by": "party", "seed": 0, "bootstrap": 200, "model": "ols"} == manifest["settings"]
    for name in ("prevalence", "differences", "uncertainty", "over_time", "effects", "log_odds"):
        assert (folder / f"{name}.csv").exists() and (folder / f"{name}.parquet").exists()
    for stem in ("prevalence", "over_time", "effects"):
        assert (folder / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (folder / f"{stem}.svg").read_bytes()[:500]
    first = (folder / "differences.csv").read_bytes(), (folder / "uncertainty.csv").read_bytes()
    cli(study, run)
    assert ((folder / "differences.csv").read_bytes(), (folder / "uncertainty.csv").read_bytes()) == first


def test_report_and_explore_show_the_findings_with_metadata_escaped(built):
    study, run = built
    cli(study, run)
    report = (run.folder / "report.html").read_text()
    assert 'id="analysis"' in report and "data:image/png;base64," in report
    assert HOSTILE not in report and "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    with TestClient(create_app(study.folder, run.id), base_url="http://127.0.0.1") as client:
        page = client.get("/findings").text
    assert "Group differences" in page and HOSTILE not in page and "&lt;script&gt;" in page


def test_a_bad_column_is_one_error_line_and_writes_nothing(built, tmp_path):
    study, run = built
    before = sorted(p.name for p in run.folder.iterdir())
    result = CliRunner().invoke(app, ["analyze", "--study", str(study.folder), "--run", run.id, "--by", "nope"])
    assert result.exit_code == 1 and "error: by='nope'" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in run.folder.iterdir()) == before


def test_runs_with_other_seeds_are_the_clustering_source(built):
    study, run = built
    execute_run(study, dataclasses.replace(RunConfig.from_dict(run.config), seed=1), progress=False)
    res = study.load_run(run.id).analyze(by="party", bootstrap=100)
    assert (res.uncertainty["clustering_source"] == "runs (2 seeds)").all()


def _widths(table: pd.DataFrame, cluster: int) -> tuple[float, float]:
    row = table.set_index("cluster").loc[cluster]
    return row["sampling_high"] - row["sampling_low"], row["clustering_high"] - row["clustering_low"]


def test_a_seed_that_moves_items_widens_only_the_clustering_interval():
    rows = pd.DataFrame({"cluster": np.repeat([0, 1, 2], 200)})
    moved = rows["cluster"].to_numpy().copy()
    moved[:100] = 1  # in the other run, half of cluster 0 went to cluster 1
    table, source = noise_table(rows, by_group=False, siblings=[moved], n_boot=400, rng=np.random.default_rng(0))
    sampling, clustering = _widths(table, 0)
    assert source == "runs (2 seeds)" and clustering > 2.5 * sampling
    assert _widths(table, 2)[1] == pytest.approx(_widths(table, 2)[0], rel=0.3)  # cluster 2 never moved


def test_weak_soft_memberships_widen_the_clustering_interval():
    rows = pd.DataFrame({"cluster": np.repeat([0, 1], 300), "probability": np.repeat([0.5, 1.0], 300)})
    table, source = noise_table(rows, by_group=False, siblings=[], n_boot=400, rng=np.random.default_rng(0))
    sampling, clustering = _widths(table, 0)
    row = table.set_index("cluster").loc[0]
    assert source == "soft memberships" and clustering > 1.1 * sampling
    assert row["clustering_low"] < row["sampling_low"] - 0.1  # half its members are fringe: share ~1/3
    assert _widths(table, 1)[1] < 1.5 * _widths(table, 1)[0]


def test_align_matches_clusters_by_overlap():
    reference = np.array([0, 0, 0, 1, 1, 2, 2, -1])
    other = np.array([5, 5, 7, 3, 3, 7, 7, 5])
    assert align(reference, other).tolist() == [0, 0, 2, 1, 1, 2, 2, 0]
