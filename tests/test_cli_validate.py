"""The validation commands on a small study built here: sample -> code -> evaluate, and friends."""

from __future__ import annotations

import dataclasses
import json

import krippendorff
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score
from typer.testing import CliRunner

from semclust.cli import app
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run, label_run, reduce_and_cluster
from semclust.study.runs import Run
from semclust.study.workspace import Study

THEMES = {
    "energy": "solar wind turbines renewable energy panels",
    "plastic": "plastic waste ocean pollution bottles beach",
    "protest": "protest march crowd banner street slogans",
}
PER_THEME = 8
CONFIG = dict(describer="column:text", embedder="tfidf:5", reducer="pca:2", map="none", seed=0)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """24 posts in 3 themes, clustered into 3 clusters by k-means; yields (folder, run)."""
    root = tmp_path_factory.mktemp("validate")
    rng = np.random.default_rng(0)
    rows = []
    for theme, words in THEMES.items():
        vocabulary = words.split()
        for i in range(PER_THEME):
            path = root / "img" / f"{theme}{i}.png"
            path.parent.mkdir(exist_ok=True)
            pixels = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).resize((48, 36)).save(path)
            text = " ".join(rng.choice(vocabulary, size=4, replace=False))
            rows.append({"id": f"{theme}{i}", "image": str(path), "text": text, "theme": theme})
    pd.DataFrame(rows).to_csv(root / "posts.csv", index=False)
    with Study(root / "study") as s:
        s.ingest(root / "posts.csv", progress=False)
        s.describe("column:text")
        run = label_run(cluster_run(s, RunConfig(clusterer="kmeans:3", **CONFIG), progress=False))
    return root / "study", run


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result


def assert_clean_failure(result, *fragments):
    """Exit 1 through _fail: a message, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in " ".join(result.output.split()), result.output


def evaluation_of(run: Run) -> dict:
    return json.loads((run.folder / "evaluation.json").read_text())


def balanced_codes(folder, run, tmp_path, n=40):
    """A balanced pair sample of ``run``, coded 2 (connotative) / 1 (denotative) for same-cluster pairs, 0 otherwise."""
    prefix = tmp_path / "pairs"
    result = invoke(
        "sample",
        "pairs",
        "--study",
        folder,
        "--run",
        run.id,
        "--n",
        n,
        "--balanced",
        "--coders",
        "ann,bob",
        "--out",
        prefix,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(f"{prefix}.csv")
    cluster = run.assignments.set_index("id")["cluster"]
    same = cluster[table["id_a"]].to_numpy() == cluster[table["id_b"]].to_numpy()
    for coder in ("ann", "bob"):
        table[f"connotative_{coder}"] = np.where(same, 2, 0)
        table[f"denotative_{coder}"] = np.where(same, 1, 0)
    return table, same


def test_sample_pairs_writes_blind_files_and_keeps_coders_work(study, tmp_path):
    folder, _ = study
    prefix = tmp_path / "random"
    result = invoke("sample", "pairs", "--study", folder, "--n", 30, "--out", prefix)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(f"{prefix}.csv")
    assert len(table) == 30 and "cluster" not in " ".join(table.columns)
    assert {"denotative_coder1", "connotative_coder2"} <= set(table.columns)
    sidecar = json.loads((tmp_path / "random.json").read_text())
    assert sidecar["run"] is None and sidecar["parameters"]["n"] == 30
    again = invoke("sample", "pairs", "--study", folder, "--n", 30, "--out", prefix)
    assert_clean_failure(again, "random.csv exists")


def test_evaluate_scores_codes_known_by_construction(study, tmp_path):
    folder, run = study
    table, same = balanced_codes(folder, run, tmp_path)
    first_same = int(np.flatnonzero(same)[0])
    table.loc[first_same, "denotative_bob"] = 0  # one disagreement
    table.to_csv(tmp_path / "codes.csv", index=False)
    result = invoke(
        "evaluate",
        "--study",
        folder,
        "--run",
        run.id,
        "--codes",
        tmp_path / "codes.csv",
        "--min-same",
        10,
        "--min-diff",
        10,
    )
    assert result.exit_code == 0, result.output
    evaluation = evaluation_of(run)
    connotative = evaluation["quality"]["scores"]["connotative"]
    assert connotative["score"] == 2.0 and (connotative["n_same"], connotative["n_diff"]) == (
        20,
        20,
    )
    # denotative: same-cluster pairs (19 * 1 + 0.5) / 20, different-cluster pairs 0
    assert evaluation["quality"]["scores"]["denotative"]["score"] == pytest.approx(19.5 / 20)
    pairs = evaluation["pairs"]["by_dimension"]["connotative"]["scores"]
    assert (pairs["precision"], pairs["recall"], pairs["f1"]) == (1.0, 1.0, 1.0)
    ratings = table[["denotative_ann", "denotative_bob"]].to_numpy(dtype=float).T
    expected = krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal")
    alpha = evaluation["agreement"]["by_dimension"]["denotative"]["alpha"]["ordinal"]
    assert alpha == pytest.approx(expected)
    words = (run.folder / "evaluation.txt").read_text()  # in words, not dotted keys
    assert (
        "Cluster quality, connotative (Grimmer-King, same minus different, 0-2 scale): "
        "2.00 from 20 same / 20 different pairs  [--min-same 10 instead of the paper's 50; "
        "--min-diff 10 instead of the paper's 50]"
    ) in words
    assert "quality.connotative" not in result.output and "Cluster quality" in result.output
    report = (run.folder / "report.html").read_text()  # the report's metrics in words too
    assert "Evaluation: Cluster quality, connotative (Grimmer-King" in report
    assert "quality.connotative" not in report
    assert (run.folder / "evaluation" / "quality_pairs.csv").exists()


def test_too_few_pairs_are_not_scorable(study, tmp_path):
    folder, run = study
    table, _ = balanced_codes(folder, run, tmp_path, n=20)
    table.to_csv(tmp_path / "codes.csv", index=False)
    result = invoke(
        "evaluate", "--study", folder, "--run", run.id, "--codes", tmp_path / "codes.csv"
    )
    assert result.exit_code == 0, result.output
    assert "not scorable" in result.output
    score = evaluation_of(run)["quality"]["scores"]["connotative"]
    assert (
        score["score"] is None and "only 10 same-cluster pairs (fewer than 50)" in score["reason"]
    )


@pytest.mark.parametrize(
    ("change", "scale", "message"),
    [
        (
            lambda t: t.assign(id_a=t["id_a"].where(t.index != 3, "ghost")),
            "auto",
            "line 5 of codes.csv",
        ),
        (lambda t: pd.concat([t, t.iloc[[0]]]), "auto", "coded twice"),
        (
            lambda t: t.assign(connotative_ann=t["connotative_ann"].where(t.index != 1, 3)),
            "0-2",
            "outside the scale 0-2",
        ),
    ],
    ids=["unknown-image", "pair-twice", "off-scale"],
)
def test_bad_codes_are_clear_errors(study, tmp_path, change, scale, message):
    folder, run = study
    table, _ = balanced_codes(folder, run, tmp_path, n=10)
    change(table).to_csv(tmp_path / "codes.csv", index=False)
    result = invoke(
        "evaluate",
        "--study",
        folder,
        "--run",
        run.id,
        "--codes",
        tmp_path / "codes.csv",
        "--scale",
        scale,
    )
    assert_clean_failure(result, message)


def test_labels_internal_indices_and_consistency(study, tmp_path):
    folder, run = study
    result = invoke(
        "sample", "consistency", "--study", folder, "--run", run.id, "--out", tmp_path / "cons"
    )
    assert result.exit_code == 0, result.output
    coded = pd.read_csv(tmp_path / "cons.csv")
    assert coded.groupby("cluster").size().tolist() == [PER_THEME] * 3
    coded["theme"] = coded["id"].str.rstrip("0123456789")
    coded.loc[0, "theme"] = "something else"  # 7 of 8 in the first cluster
    coded.to_csv(tmp_path / "cons.csv", index=False)
    result = invoke(
        "evaluate",
        "--study",
        folder,
        "--run",
        run.id,
        "--labels",
        "theme",
        "--internal",
        "--consistency",
        tmp_path / "cons.csv",
    )
    assert result.exit_code == 0, result.output
    evaluation = evaluation_of(run)
    clustered = run.clustered()
    labels = clustered["cluster"].astype(int)
    ami = adjusted_mutual_info_score(clustered["theme"], labels, average_method="max")
    assert evaluation["external"]["by_column"]["theme"]["with_outliers"]["ami"] == pytest.approx(
        ami
    )
    assert evaluation["internal"]["silhouette"] == pytest.approx(
        silhouette_score(run.reduced, labels)
    )
    # the first cluster's themes agree 7 of 8 only if the clusters are the themes, as they are here
    assert ami == pytest.approx(1.0)
    assert evaluation["consistency"]["by_column"]["theme"]["mean"] == pytest.approx(
        (7 / 8 + 1 + 1) / 3
    )
    assert evaluation["data_loss"]["lost_share"] == 0.0


def test_consistency_file_from_another_run_is_refused(study, tmp_path):
    folder, run = study
    coded = run.assignments[["id", "cluster"]].head(3).assign(theme="x")
    coded.loc[0, "cluster"] = coded.loc[0, "cluster"] + 1
    coded.to_csv(tmp_path / "cons.csv", index=False)
    result = invoke(
        "evaluate", "--study", folder, "--run", run.id, "--consistency", tmp_path / "cons.csv"
    )
    assert_clean_failure(result, "line 2 of cons.csv", "another run")


def test_interpretability_round_trip_through_the_cli(study, tmp_path):
    folder, run = study
    prefix = tmp_path / "interp"
    result = invoke(
        "sample",
        "interpretability",
        "--study",
        folder,
        "--run",
        run.id,
        "--sets",
        2,
        "--coders",
        "ann,bob,cem",
        "--out",
        prefix,
    )
    assert result.exit_code == 0, result.output
    key = pd.read_csv(f"{prefix}-key.csv")
    letters = pd.read_csv(f"{prefix}-letters.csv")
    letter_of = dict(zip(letters["cluster"], letters["letter"], strict=True))
    answers = pd.DataFrame({"set_id": key["set_id"]})
    for evaluator in ("ann", "bob", "cem"):
        answers[evaluator] = [letter_of[c] for c in key["true_cluster"]]
    wrong = letter_of[(key["true_cluster"][0] + 1) % 3]
    answers.loc[0, ["bob", "cem"]] = wrong  # the majority is wrong on one of 6 sets
    answers.to_csv(tmp_path / "answers.csv", index=False)
    args = [
        "evaluate",
        "--study",
        folder,
        "--run",
        run.id,
        "--interpretability",
        tmp_path / "answers.csv",
        "--key",
        f"{prefix}-key.csv",
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    scores = evaluation_of(run)["interpretability"]
    assert scores["accuracy"] == pytest.approx(5 / 6) and scores["chance"] == pytest.approx(1 / 3)
    key.assign(run="another-run").to_csv(f"{prefix}-key.csv", index=False)
    assert_clean_failure(invoke(*args), "drawn from run another-run")


def test_compare_choose_k_and_stability(study):
    folder, run = study
    with Study(folder) as s:
        other = cluster_run(s, RunConfig(clusterer="kmeans:4", **CONFIG), progress=False)
    result = invoke("compare", "--study", folder, "--run", run.id, "--run-b", other.id)
    assert result.exit_code == 0, result.output
    compared = evaluation_of(run)["compare"]["runs"][other.id]
    expected = adjusted_mutual_info_score(run.assignments["cluster"], other.assignments["cluster"], average_method="max")
    assert compared["ami"] == pytest.approx(expected)
    assert (run.folder / "evaluation" / compared["heatmap"]).stat().st_size > 1000
    printed = " ".join(result.output.split())
    assert "Agreement with run" in printed and "heatmap:" in printed and ".ami" not in printed
    assert (  # the table in words is saved beside evaluation.json, one line a measure
        f"Agreement with run {other.id} (AMI, max-normalised, as Zhang & Leung A.1): "
        f"{expected:.2f} with outliers as one more label; no item is an outlier in either run"
    ) in (run.folder / "evaluation.txt").read_text()

    result = invoke("choose-k", "--study", folder, "--run", run.id, "--k", "2:5")
    assert result.exit_code == 0, result.output
    choice = evaluation_of(run)["choose_k"]
    assert [row["k"] for row in choice["table"]] == [2, 3, 4, 5]
    assert (run.folder / "evaluation" / "choose_k.png").exists()

    result = invoke("stability", "--study", folder, "--run", run.id, "--seeds", 2, "--seed", 4)
    assert result.exit_code == 0, result.output
    stability = evaluation_of(run)["stability"]
    with Study(folder) as s:
        _, X = s.embed("tfidf:5", progress=False)
    config = RunConfig(clusterer="kmeans:3", **CONFIG)
    a, b = (reduce_and_cluster(X, dataclasses.replace(config, seed=seed))[0] for seed in (4, 5))
    assert stability["seeds"] == [4, 5]
    ami = adjusted_mutual_info_score(a, b, average_method="max")
    assert stability["ami_mean"] == pytest.approx(ami)
    printed = " ".join(result.output.split())
    assert "Agreement between seeds" in printed and "stability." not in printed
    assert (
        "Agreement between seeds (AMI, max-normalised, as Zhang & Leung A.1; outliers as one group): "
        f"mean {ami:.2f}, min {ami:.2f}, max {ami:.2f} over every pair of 2 seeds"
    ) in (run.folder / "evaluation.txt").read_text()


def test_untrusted_names_are_printed_as_text_not_markup(tmp_path, capsys):
    from semclust.cli.validate import print_in_words

    computed = {"consistency": {"by_column": {"[red]theme[/red]": {"mean": 0.5}}}}
    print_in_words(computed, "[b]title[/b]", computed, tmp_path / "evaluation.json")
    printed = " ".join(capsys.readouterr().err.split())
    assert "[red]theme[/red]" in printed and "[b]title[/b]" in printed


def test_bad_grid_and_half_given_interpretability_are_clear_errors(study):
    folder, run = study
    assert_clean_failure(
        invoke("choose-k", "--study", folder, "--run", run.id, "--k", "2-9"), "--k must look like"
    )
    result = invoke("evaluate", "--study", folder, "--run", run.id, "--key", "k.csv")
    assert_clean_failure(result, "--interpretability (the answers) and --key go together")
