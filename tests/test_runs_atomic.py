"""A run is either finished or refused, never half-written (issue 8, part 12), and labelling
leaves the assignments alone."""

from __future__ import annotations

import pandas as pd
import pytest

from fake_llm_server import write_images
from semclust import RunConfig, Study
from semclust.core.errors import SemclustError
from semclust.study.pipeline import cluster_run, label_run
from semclust.study.runs import INCOMPLETE_MARKER, Run, resolve_run

WORDS = ["flood river rain water", "fire smoke forest heat", "protest crowd sign march"]


@pytest.fixture
def study(tmp_path):
    pairs = write_images(tmp_path / "img", 12, size=(32, 32))
    table = pd.DataFrame({"image": [p for _, p in pairs],
                          "alt": [f"{WORDS[i % 3]} photo {i}" for i in range(12)]})
    table.to_csv(tmp_path / "posts.csv", index=False)
    s = Study(tmp_path / "study")
    s.ingest(tmp_path / "posts.csv", progress=False)
    s.describe("column:alt")
    yield s
    s.close()


CONFIG = RunConfig(describer="column:alt", embedder="tfidf:4", reducer="none", clusterer="kmeans:3", map="none")


def test_a_crash_while_saving_leaves_latest_on_the_last_finished_run(study, monkeypatch):
    first = cluster_run(study, CONFIG, progress=False)

    def disk_full(self, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    with pytest.raises(OSError, match="No space"):
        cluster_run(study, RunConfig(**{**CONFIG.__dict__, "seed": 1}), progress=False)
    monkeypatch.undo()

    assert Run.load(study.folder).id == first.id  # LATEST did not move
    broken = [p for p in (study.folder / "runs").iterdir() if (p / INCOMPLETE_MARKER).exists()]
    assert len(broken) == 1 and not (broken[0] / "config.json").exists()  # config.json is written last
    with pytest.raises(SemclustError, match="never finished"):
        resolve_run(study.folder, broken[0].name)
    assert not list(broken[0].glob(".*.tmp"))  # no temporary file left behind


def test_a_finished_run_has_no_marker_and_loads(study):
    run = cluster_run(study, CONFIG, progress=False)
    assert not (run.folder / INCOMPLETE_MARKER).exists()
    assert (study.folder / "runs" / "LATEST").read_text().strip() == run.id


def test_label_does_not_rewrite_the_assignments(study):
    run = cluster_run(study, CONFIG, progress=False)
    files = [run.folder / "assignments.csv", run.folder / "assignments.parquet"]
    before = [(p.stat().st_mtime_ns, p.read_bytes()) for p in files]
    label_run(Run.load(study.folder), top_k=3)
    assert [(p.stat().st_mtime_ns, p.read_bytes()) for p in files] == before
    assert (run.folder / "clusters.csv").exists()
    assert Run.load(study.folder).config["top_k"] == 3
