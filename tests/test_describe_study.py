"""The describe stage through the study: duplicates described once, reruns free, the CLI end to end."""

from __future__ import annotations

import shutil

import pandas as pd
from typer.testing import CliRunner

from fake_llm_server import FakeLLMServer, write_images
from semclust.cli import app
from semclust.study.runs import Run


def test_cli_run_with_openai_compatible_server_describes_each_distinct_image_once(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    images = tmp_path / "images"
    pairs = write_images(images, 8, size=(96, 64))
    for i in range(3):  # reposts: byte-identical copies
        shutil.copy(pairs[i][1], images / f"repost{i}.png")
    (images / "broken.jpg").write_bytes(b"not a jpeg")
    study = tmp_path / "study"
    with FakeLLMServer() as server:
        args = ["run", str(images), "--out", str(study), "--describer", "openai:gpt-4o-mini",
                "--base-url", server.openai_base_url, "--embedder", "tfidf:5", "--reducer", "none",
                "--clusterer", "kmeans:2", "--map", "none", "--quiet", "--max-side", "32"]
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        assert len(server.requests) == 8  # 11 readable files, 8 distinct images; the broken one never sent
        second = CliRunner().invoke(app, args)
        assert second.exit_code == 0, second.output
        assert len(server.requests) == 8  # everything came from the study's cache
    run = Run.load(study)
    table = pd.read_csv(run.folder / "assignments.csv")
    assert len(table) == 12
    described = table.dropna(subset=["description"])
    assert len(described) == 11
    # a repost carries the description of its original
    by_id = table.set_index("id")["description"]
    assert by_id["repost0.png"] == by_id[pairs[0][1].split("/")[-1]]
    assert table.set_index("id").loc["broken.jpg", "note"].startswith("unreadable image")
