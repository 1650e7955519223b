"""Re-ingesting an id that exists keeps both versions and says what changed (issue 8, part 13)."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from fake_llm_server import FakeLLMServer, write_images
from semclust.cli import app
from semclust.study.config import DescribeOptions
from semclust.study.workspace import Study


def test_reingest_keeps_the_earlier_version_and_its_description(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pairs = write_images(tmp_path / "img", 4, size=(32, 32))
    first = pd.DataFrame({"id": ["a", "b", "c"], "image": [p for _, p in pairs[:3]],
                          "text": ["one", "two", "three"]})
    first.to_csv(tmp_path / "v1.csv", index=False)
    second = first.assign(image=[pairs[0][1], pairs[3][1], pairs[2][1]], text=["one", "two", "THREE"])
    second.to_csv(tmp_path / "v2.csv", index=False)

    with FakeLLMServer() as server, Study(tmp_path / "study") as study:
        options = DescribeOptions(base_url=server.openai_base_url)
        study.ingest(tmp_path / "v1.csv", progress=False)
        study.describe("openai:m", options=options, progress=False)
        summary = study.ingest(tmp_path / "v2.csv", progress=False)
        study.describe("openai:m", options=options, progress=False)

        assert dict(summary.replaced) == {
            "b": f"image {pairs[1][1]} -> {pairs[3][1]}; image content",
            "c": "columns text",
        }
        versions = study.store.item_versions().set_index("id")
        assert versions.loc["b", "sha256"] == pairs[1][0]
        assert versions.loc["c", "meta"] == '{"text": "three"}'
        items = study.items().set_index("id")
        assert items.loc["b", "sha256"] == pairs[3][0] and items.loc["c", "text"] == "THREE"
        described = {row[0] for row in study.store._execute("SELECT sha256 FROM descriptions")}
        assert {pairs[1][0], pairs[3][0]} <= described  # both versions' descriptions kept
        assert len(server.requests) == 4


def test_reingest_is_announced_by_the_cli(tmp_path):
    pairs = write_images(tmp_path / "img", 2, size=(32, 32))
    pd.DataFrame({"id": ["a"], "image": [pairs[0][1]]}).to_csv(tmp_path / "v1.csv", index=False)
    pd.DataFrame({"id": ["a"], "image": [pairs[1][1]]}).to_csv(tmp_path / "v2.csv", index=False)
    study = str(tmp_path / "study")
    assert CliRunner().invoke(app, ["ingest", str(tmp_path / "v1.csv"), "-s", study, "-q"]).exit_code == 0
    unchanged = CliRunner().invoke(app, ["ingest", str(tmp_path / "v1.csv"), "-s", study, "-q"])
    assert "changed" not in unchanged.output
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "v2.csv"), "-s", study, "-q"])
    assert result.exit_code == 0, result.output
    assert "1 id(s) were in the study already and changed" in result.output
    assert "a: image " in result.output
