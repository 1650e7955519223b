"""`evaluate` on a sample nobody has coded yet keeps what was evaluated before (issue 8, part 17)."""

from __future__ import annotations

import itertools
import json

import pandas as pd
from typer.testing import CliRunner

from fake_llm_server import write_images
from semclust import RunConfig, Study
from semclust.cli import app
from semclust.study.runs import Run

WORDS = ["flood river rain water", "fire smoke forest heat", "protest crowd sign march"]


def _clustered_study(tmp_path, n: int) -> list[str]:
    """A study of ``n`` images with themed alt text, clustered into 3; returns the item ids."""
    pairs = write_images(tmp_path / "img", n, size=(32, 32))
    pd.DataFrame({"image": [p for _, p in pairs], "alt": [f"{WORDS[i % 3]} {i}" for i in range(n)]}).to_csv(
        tmp_path / "posts.csv", index=False)
    with Study(tmp_path / "study") as study:
        study.ingest(tmp_path / "posts.csv", progress=False)
        study.describe("column:alt")
        run = study.run(RunConfig(describer="column:alt", embedder="tfidf:4", reducer="none",
                                  clusterer="kmeans:3", map="none"), progress=False)
    return run.assignments["id"].tolist()


def test_uncoded_sample_says_so_and_keeps_the_earlier_sections(tmp_path, caplog):
    ids = _clustered_study(tmp_path, 18)
    pairs_of_ids = list(itertools.combinations(ids[:9], 2))
    coded = pd.DataFrame({"pair": range(len(pairs_of_ids)), "id_a": [p[0] for p in pairs_of_ids],
                          "id_b": [p[1] for p in pairs_of_ids]})
    theme = {i: n % 3 for n, i in enumerate(ids)}
    coded["same_coder1"] = [int(theme[x] == theme[y]) for x, y in zip(coded["id_a"], coded["id_b"], strict=True)]
    coded.to_csv(tmp_path / "coded.csv", index=False)
    coded.assign(same_coder1="").to_csv(tmp_path / "uncoded.csv", index=False)

    study_arg = ["--study", str(tmp_path / "study")]
    first = CliRunner().invoke(app, ["evaluate", *study_arg, "--codes", str(tmp_path / "coded.csv")])
    assert first.exit_code == 0, first.output
    path = Run.load(tmp_path / "study").folder / "evaluation.json"
    before = json.loads(path.read_text())
    assert before["pairs"]["by_dimension"]["same"]["scores"]["n_pairs"] == len(pairs_of_ids)

    second = CliRunner().invoke(app, ["evaluate", *study_arg, "--codes", str(tmp_path / "uncoded.csv")])
    assert second.exit_code == 0, second.output
    assert "no pair is coded yet" in caplog.text  # a warning on the console (pytest captures logs)
    assert "Found array" not in second.output
    after = json.loads(path.read_text())
    assert after["pairs"] == before["pairs"] and after["agreement"] == before["agreement"]


def test_pairs_coded_in_an_agreed_column_count_as_coded(tmp_path, caplog):
    """A codes file with a bare `same` column (the agreed code, no coder suffix) is coded."""
    ids = _clustered_study(tmp_path, 12)
    pairs_of_ids = list(itertools.combinations(ids[:8], 2))
    theme = {i: n % 3 for n, i in enumerate(ids)}
    pd.DataFrame({"id_a": [p[0] for p in pairs_of_ids], "id_b": [p[1] for p in pairs_of_ids],
                  "same": [int(theme[x] == theme[y]) for x, y in pairs_of_ids]}).to_csv(
        tmp_path / "agreed.csv", index=False)
    result = CliRunner().invoke(app, ["evaluate", "--study", str(tmp_path / "study"),
                                      "--codes", str(tmp_path / "agreed.csv")])
    assert result.exit_code == 0, result.output
    assert "no pair is coded yet" not in caplog.text
    saved = json.loads((Run.load(tmp_path / "study").folder / "evaluation.json").read_text())
    assert saved["pairs"]["by_dimension"]["same"]["scores"]["n_pairs"] == len(pairs_of_ids)
