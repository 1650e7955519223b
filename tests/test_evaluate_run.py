"""The Python API of semclust.validation.evaluate (evaluate_run and friends) against the CLI that wraps it."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score
from typer.testing import CliRunner

from semclust.cli import app
from semclust.core.errors import SemclustError
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run, label_run
from semclust.study.runs import Run
from semclust.study.workspace import Study
from semclust.validation.evaluate import (
    EvaluateOptions,
    choose_k_for_run,
    compare_runs,
    evaluate_run,
    evaluation_sections,
    headline,
    stability_of_run,
)
from semclust.validation.evaluate.alternatives import compare_section

WORDS = {
    "cat": "cat kitten whiskers purr paws fur",
    "car": "car engine wheels road tyres drive",
}
CONFIG = dict(describer="column:text", embedder="tfidf:4", reducer="pca:2", map="none", seed=0)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """20 posts about cats or cars, in a 2-means and a 3-means run; yields (folder, run, other)."""
    root = tmp_path_factory.mktemp("api")
    rng = np.random.default_rng(1)
    rows = []
    for topic, words in WORDS.items():
        for i in range(10):
            path = root / f"{topic}{i}.png"
            Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(path)
            text = " ".join(rng.choice(words.split(), size=3, replace=False))
            rows.append({"id": f"{topic}{i}", "image": str(path), "text": text, "topic": topic})
    pd.DataFrame(rows).to_csv(root / "posts.csv", index=False)
    with Study(root / "study") as s:
        s.ingest(root / "posts.csv", progress=False)
        s.describe("column:text")
        run, other = (
            label_run(cluster_run(s, RunConfig(clusterer=f"kmeans:{k}", **CONFIG), progress=False))
            for k in (2, 3)
        )
    return root / "study", run, other


def cli_section(folder, run: Run, name: str, *args) -> dict:
    """Run a command on ``run`` and return the section it wrote, timestamps left out."""
    result = CliRunner().invoke(app, [*map(str, args), "--study", str(folder), "--run", run.id])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((run.folder / "evaluation.json").read_text())
    return untimed(evaluation[name])


def untimed(section: dict) -> dict:
    return {k: v for k, v in section.items() if k != "computed"}


def test_evaluate_run_gives_the_cli_numbers(study):
    folder, run, _ = study
    expected = {
        name: cli_section(folder, run, name, "evaluate", "--labels", "topic", "--internal")
        for name in ("external", "internal", "data_loss")
    }
    result = evaluate_run(
        Run.load(folder, run.id), EvaluateOptions(labels=("topic",), internal=True)
    )
    assert set(result.sections) == set(expected)
    assert {name: untimed(result.evaluation[name]) for name in expected} == expected
    assert json.loads(result.path.read_text()) == result.evaluation
    assert result.headline == headline(result.evaluation)
    clustered = run.clustered()
    labels = clustered["cluster"].astype(int)
    ami = adjusted_mutual_info_score(clustered["topic"], labels, average_method="max")
    assert result.headline["external.topic.ami"] == pytest.approx(ami)
    assert result.headline["internal.silhouette"] == pytest.approx(
        silhouette_score(run.reduced, labels)
    )
    table = result.sections["external"].tables["scores"]
    assert table["ami"].iloc[0] == pytest.approx(ami)


def test_compare_choose_k_and_stability_give_the_cli_numbers(study):
    folder, run, other = study
    loaded = Run.load(folder, run.id)
    expected = cli_section(folder, run, "compare", "compare", "--run-b", other.id)
    compared = compare_runs(loaded, Run.load(folder, other.id))
    assert untimed(compared.evaluation["compare"]) == expected
    ami = adjusted_mutual_info_score(run.assignments["cluster"], other.assignments["cluster"], average_method="max")
    assert compared.sections["compare"].data["runs"][other.id]["ami"] == pytest.approx(ami)

    expected = cli_section(folder, run, "choose_k", "choose-k", "--k", "2:4")
    chosen = choose_k_for_run(loaded, [2, 3, 4])
    assert untimed(chosen.evaluation["choose_k"]) == expected
    assert [row["k"] for row in expected["table"]] == [2, 3, 4]

    args = ("stability", "--seeds", 2, "--seed", 3, "--reducer", "pca:3")
    expected = cli_section(folder, run, "stability", *args)
    stable = stability_of_run(loaded, folder, [3, 4], reducer="pca:3")
    assert untimed(stable.evaluation["stability"]) == expected
    assert expected["seeds"] == [3, 4] and expected["reducer"] == "pca:3"


def test_sections_alone_write_nothing(study):
    folder, run, other = study
    path = run.folder / "evaluation.json"
    before = path.read_text() if path.exists() else None
    sections = evaluation_sections(run, EvaluateOptions(labels=("topic",)))
    section = compare_section(run, other, drop_outliers=False)
    assert set(sections) == {"external", "data_loss"}
    assert section.data["runs"][other.id]["n_items"] == 20
    assert (path.read_text() if path.exists() else None) == before


def test_user_errors_are_the_clis(study):
    folder, run, _ = study
    message = "--interpretability (the answers) and --key go together: give both"
    with pytest.raises(SemclustError, match=re.escape(message)):
        evaluate_run(run, EvaluateOptions(key=folder / "key.csv"))
    result = CliRunner().invoke(
        app, ["evaluate", "--study", str(folder), "--run", run.id, "--key", "key.csv"]
    )
    assert result.exit_code == 1 and message in " ".join(result.output.split())
    with pytest.raises(SemclustError, match="no column 'nope'"):
        evaluate_run(run, EvaluateOptions(labels=("nope",)))
