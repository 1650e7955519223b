"""The tree of themes and its stable names, on planted two- and three-level corpora."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score
from typer.testing import CliRunner

from semclust.cli import app
from semclust.core.errors import SemclustError
from semclust.exploration.refine import refine_run
from semclust.exploration.stable_names import JACCARD_THRESHOLD, NameCache, jaccard, name_run
from semclust.stages.merge_tree import merge_levels
from semclust.study.config import RunConfig
from semclust.study.hierarchy import HIERARCHY_COLUMNS, build_hierarchy, load_hierarchy
from semclust.study.pipeline import execute_run, report_run
from semclust.study.runs import Run

PARENT_WORDS = ["protest", "flood", "sport", "food"]
CHILD_WORDS = ["march", "police", "vigil", "rain", "rescue", "damage", "goal", "fans", "stadium",
               "pasta", "bread", "wine"]


def planted(n_parents: int, n_children: int, n_per: int, dim: int = 48, seed: int = 0,
            spread: float = 0.5, noise: float = 0.15):
    """Items around child centres, which lie around parent centres: ``(X, child, parent)``."""
    rng = np.random.default_rng(seed)
    parents = rng.normal(size=(n_parents, dim))
    parents /= np.linalg.norm(parents, axis=1, keepdims=True)
    owner = np.repeat(np.arange(n_parents), n_children)
    centres = parents[owner] + spread * rng.normal(size=(len(owner), dim)) / np.sqrt(dim)
    child = np.repeat(np.arange(len(owner)), n_per)
    X = centres[child] + noise * rng.normal(size=(len(child), dim)) / np.sqrt(dim)
    return X.astype(np.float32), child, owner[child]


def nested(n_top: int = 2, n_mid: int = 2, n_leaf: int = 3, n_per: int = 15, dim: int = 48, seed: int = 0):
    """Three planted levels: ``(X, leaf, mid, top)``."""
    rng = np.random.default_rng(seed)
    top = rng.normal(size=(n_top, dim))
    top /= np.linalg.norm(top, axis=1, keepdims=True)
    mid_owner = np.repeat(np.arange(n_top), n_mid)
    mid = top[mid_owner] + 0.6 * rng.normal(size=(len(mid_owner), dim)) / np.sqrt(dim)
    leaf_owner = np.repeat(np.arange(len(mid)), n_leaf)
    leaves = mid[leaf_owner] + 0.25 * rng.normal(size=(len(leaf_owner), dim)) / np.sqrt(dim)
    leaf = np.repeat(np.arange(len(leaves)), n_per)
    X = leaves[leaf] + 0.05 * rng.normal(size=(len(leaf), dim)) / np.sqrt(dim)
    return X.astype(np.float32), leaf, leaf_owner[leaf], mid_owner[leaf_owner[leaf]]


@pytest.mark.parametrize("shape", [(3, 3, 30), (2, 4, 20), (4, 2, 40), (5, 3, 10), (3, 6, 8)])
def test_the_number_of_parents_comes_from_the_data(shape):
    for seed in range(3):
        X, child, parent = planted(*shape, seed=seed)
        level = merge_levels(X, child, 2)[0]
        ami = adjusted_mutual_info_score(parent, level.parent[child])
        print(f"planted {shape} seed {seed}: {level.parent.max() + 1} parents, AMI {ami:.3f}")
        assert level.parent.max() + 1 == shape[0] and ami == pytest.approx(1.0)


def test_three_planted_levels_are_recovered():
    X, leaf, mid, top = nested()
    levels = merge_levels(X, leaf, 3)
    at_mid = levels[0].parent[leaf]
    at_top = levels[1].parent[at_mid]
    ami_mid, ami_top = adjusted_mutual_info_score(mid, at_mid), adjusted_mutual_info_score(top, at_top)
    print(f"three levels: AMI level 1 {ami_mid:.3f}, level 2 {ami_top:.3f}")
    assert ami_mid == pytest.approx(1.0) and ami_top == pytest.approx(1.0)


def make_study(tmp_path, seed: int = 0):
    """A study of 3 planted themes x 3 subthemes, ingested from Parquet with vectors and a text."""
    from semclust.study.workspace import Study

    X, child, parent = planted(3, 3, 30, seed=seed)
    text = [f"{PARENT_WORDS[p]} {CHILD_WORDS[c]} item{i}" for i, (c, p) in enumerate(zip(child, parent, strict=True))]
    pd.DataFrame({"id": [f"i{i}" for i in range(len(X))], "vec": list(X), "post": text,
                  "child": child, "parent": parent}).to_parquet(tmp_path / "items.parquet")
    study = Study(tmp_path / "study")
    study.ingest(tmp_path / "items.parquet", progress=False)
    study.describe("column:post")
    return study


def run_with(study, seed: int, k: int = 9) -> Run:
    return execute_run(study, RunConfig(describer="column:post", embedder="column:vec", reducer="none",
                                        clusterer=f"kmeans:{k}", map="none", seed=seed), progress=False)


@pytest.fixture
def study(tmp_path):
    s = make_study(tmp_path)
    yield s
    s.close()


def test_the_planted_two_levels_are_recovered_and_written(study):
    run = run_with(study, 0)
    table = build_hierarchy(study, run, levels=2, assign_level=1)
    clustered = run.assignments
    ami0 = adjusted_mutual_info_score(clustered["child"], clustered["cluster"].astype(int))
    ami1 = adjusted_mutual_info_score(clustered["parent"], clustered["theme"].astype(int))
    print(f"planted two-level corpus: AMI level 0 {ami0:.3f}, level 1 {ami1:.3f}")
    assert ami0 == pytest.approx(1.0) and ami1 == pytest.approx(1.0)
    written = pd.read_csv(run.folder / "hierarchy.csv", keep_default_na=False)
    assert tuple(written.columns) == HIERARCHY_COLUMNS and written["node"].tolist() == table["node"].tolist()
    assert written.groupby("level").size().to_dict() == {0: 9, 1: 3}
    assert (written[written["level"] == 1]["parent"] == "").all()
    top = written[written["level"] == 1].set_index("node")
    for node, row in top.iterrows():  # each parent's keywords lead with its planted theme's word
        members = clustered[clustered["theme"] == node]
        assert row["size"] == len(members)
        assert row["keywords"].split(":")[0] == PARENT_WORDS[members["parent"].mode()[0]]
    clusters = pd.read_csv(run.folder / "clusters.csv", keep_default_na=False)
    assert "parent" in clusters.columns
    level0 = written[written["level"] == 0].set_index("node")["parent"]
    for row in clusters.itertuples():
        assert str(row.parent) == ("" if row.cluster < 0 else str(level0[row.cluster]))
    reloaded = Run.load(study.folder, run.id)
    assert reloaded.assignments["theme"].astype(int).tolist() == clustered["theme"].astype(int).tolist()
    info = json.loads((run.folder / "hierarchy.json").read_text())
    assert info["parents_per_level"] == [3] and info["assign_level"] == 1 and info["space"] == "embedding"


def test_bad_input_is_one_clear_error_and_writes_nothing(study):
    run = run_with(study, 0)
    for levels, assign, message in [(4, 0, "--levels must be 2 or 3"), (1, 0, "--levels must be 2 or 3"),
                                    (2, 2, "--assign-level must be between 0 and 1")]:
        with pytest.raises(SemclustError, match=message):
            build_hierarchy(study, run, levels=levels, assign_level=assign)
    assert not (run.folder / "hierarchy.csv").exists()
    few = run_with(study, 0, k=3)  # 3 clusters make 2 themes: no third level above them
    with pytest.raises(SemclustError, match="level 2 needs at least 3 themes at level 1, found 2"):
        build_hierarchy(study, few, levels=3)
    with pytest.raises(SemclustError, match="has 2 clusters; parent themes need at least 3"):
        build_hierarchy(study, run_with(study, 0, k=2))
    assert not (few.folder / "hierarchy.csv").exists()
    build_hierarchy(study, few, levels=2)
    merged = refine_run(study, few, [{"op": "merge", "clusters": [0, 1]}], report=False)
    (few.folder / "hierarchy.csv").replace(merged.folder / "hierarchy.csv")  # a tree of other clusters
    with pytest.raises(SemclustError, match="does not match its clusters"):
        name_run(study.folder, study.store, Run.load(study.folder, merged.id), "keywords")
    run.clusters = None
    with pytest.raises(SemclustError, match="no clusters.csv"):
        build_hierarchy(study, run)
    result = CliRunner().invoke(app, ["hierarchy", "--study", str(study.folder), "--levels", "5"])
    assert result.exit_code == 1 and "--levels must be 2 or 3" in result.output
    result = CliRunner().invoke(app, ["name", "--study", str(study.folder), "--level", "1"])
    assert result.exit_code == 1 and "run `semclust hierarchy`" in result.output


class CountingNamer:
    """A fake language model: one call per prompt, named by a counter; ``calls`` lists the prompts."""

    def __init__(self):
        self.calls: list = []

    def __call__(self, prompts: dict) -> dict:
        answers = {}
        for key, prompt in prompts.items():
            self.calls.append((key, prompt))
            answers[key] = json.dumps({"name": f"Theme {len(self.calls)} <b>", "summary": "Made up."})
        return answers


def names_by_members(run: Run) -> dict:
    """``{(level, frozenset(member ids)): name}`` for every node of the run."""
    tree = load_hierarchy(run)
    rows = run.clustered()
    out = {}
    for level, nodes in ((0, rows["cluster"].astype(int)), (1, rows["theme"].astype(int))):
        names = tree[tree["level"] == level].set_index("node")["name"]
        for node in sorted(set(nodes)):
            out[(level, frozenset(rows.loc[nodes == node, "id"]))] = names[node]
    return out


def test_names_stay_put_across_seeds_and_change_with_their_members(study):
    first = run_with(study, 0)
    build_hierarchy(study, first, assign_level=1)
    namer = CountingNamer()
    done = name_run(study.folder, study.store, first, "openai:fake", ask=namer)
    assert done.asked == len(namer.calls) == 12 and done.reused == 0
    report_run(first)  # the tree shows the model's names, escaped
    html = (first.folder / "report.html").read_text()
    assert 'id="themes"' in html and "Theme 12 &lt;b&gt;" in html and "<b>" not in html
    second = run_with(study, 7)  # another seed: the same clusters, numbered as k-means likes
    build_hierarchy(study, second, assign_level=1)
    done = name_run(study.folder, study.store, second, "openai:fake", ask=namer)
    assert done.asked == 0 and len(namer.calls) == 12 and done.reused == 12
    assert names_by_members(second) == names_by_members(first)
    assert "Theme" in Run.load(study.folder, second.id).clusters["name"].iloc[0]
    # a few items move (Jaccard stays >= 0.8): still no new call
    rows = second.clustered()
    small = rows[rows["cluster"] == 0]["id"].head(2).tolist()
    target = int(rows[(rows["theme"] == rows[rows["cluster"] == 0]["theme"].iloc[0]) & (rows["cluster"] != 0)]
                 ["cluster"].iloc[0])
    nudged = refine_run(study, second, [{"op": "move", "ids": small, "cluster": target}], report=False)
    build_hierarchy(study, nudged, assign_level=1)
    assert name_run(study.folder, study.store, nudged, "openai:fake", ask=namer).asked == 0
    # two clusters merged: that cluster changed materially and is asked for; nothing else is
    a, b = (int(c) for c in rows[rows["theme"] == 0]["cluster"].unique()[:2])
    merged = refine_run(study, second, [{"op": "merge", "clusters": [a, b]}], report=False)
    build_hierarchy(study, merged, assign_level=1)
    done = name_run(study.folder, study.store, merged, "openai:fake", ask=namer)
    assert done.asked == 1 and [key for key, _ in namer.calls[12:]] == [(0, a)]
    records = NameCache(study.folder).records
    assert len(records) == 13 and records[-1].model == "fake" and "Keywords:" in records[-1].prompt
    assert set(records[-1].members) == set(rows[rows["cluster"].isin([a, b])]["id"])


def test_keyword_names_need_no_model_and_are_cached_per_namer(study):
    run = run_with(study, 0)
    build_hierarchy(study, run, assign_level=1)
    result = CliRunner().invoke(app, ["name", "--study", str(study.folder), "--namer", "keywords"])
    assert result.exit_code == 0, result.output
    assert "12 asked of keywords, 0 reused" in result.output
    named = Run.load(study.folder, run.id)
    tree = load_hierarchy(named)
    top = tree[tree["level"] == 1]
    assert all(name.split(", ")[0] in PARENT_WORDS for name in top["name"])
    by_theme = top.set_index("node")["name"]
    assert (named.assignments["theme_name"] == named.assignments["theme"].map(by_theme)).all()
    assert named.assignments.columns.get_loc("theme_name") == named.assignments.columns.get_loc("theme") + 1
    html = (run.folder / "report.html").read_text()
    assert "Themes" in html and top["name"].iloc[0] in html


def test_the_jaccard_rule():
    a = frozenset(range(10))
    assert jaccard(a, frozenset(range(2, 10))) == pytest.approx(0.8)
    assert jaccard(a, frozenset(range(2, 10))) >= JACCARD_THRESHOLD
    assert jaccard(a, frozenset(range(3, 10))) < JACCARD_THRESHOLD


def test_the_explore_app_shows_the_tree(study):
    from fastapi.testclient import TestClient

    from semclust.exploration.app import create_app

    run = run_with(study, 0)
    build_hierarchy(study, run, assign_level=1)
    name_run(study.folder, study.store, run, "openai:fake", ask=CountingNamer())
    with TestClient(create_app(study.folder, run.id), base_url="http://127.0.0.1:8766") as client:
        page = client.get("/").text
    assert 'id="themes"' in page and page.count("<details") == 3
    assert 'href="/cluster/0"' in page and "&lt;b&gt;</strong>" in page and "<b></strong>" not in page


def test_outliers_have_no_parent_and_no_theme(study):
    run = refine_run(study, run_with(study, 0), [{"op": "drop", "cluster": 4}], report=False)
    result = CliRunner().invoke(app, ["hierarchy", "--study", str(study.folder), "--run", run.id,
                                      "--assign-level", "1"])
    assert result.exit_code == 0, result.output
    assert "level 1 theme 0" in result.output and "assignments' theme = level 1" in result.output
    run = Run.load(study.folder, run.id)
    outliers = run.assignments["cluster"] == -1
    assert outliers.sum() == 30 and run.assignments.loc[outliers, "theme"].isna().all()
    assert run.assignments.loc[~outliers, "theme"].notna().all()
    clusters = pd.read_csv(run.folder / "clusters.csv", keep_default_na=False).set_index("cluster")
    assert clusters.loc[-1, "parent"] == "" and (clusters.drop(index=-1)["parent"] != "").all()
    tree = load_hierarchy(run)
    assert tree[tree["level"] == 1]["size"].sum() == (~outliers).sum()
    assert (run.folder / "report.html").read_text().count("<details") == tree["level"].eq(1).sum()


def test_names_from_a_served_model_are_asked_once(study):
    from fake_llm_server import FakeLLMServer, Reply, openai_body
    from semclust.exploration.namer import NamerOptions

    first, second = run_with(study, 0), run_with(study, 3)
    for run in (first, second):
        build_hierarchy(study, run, assign_level=1)
    with FakeLLMServer() as server:
        server.queue(*[Reply(body=openai_body(json.dumps({"name": f"Served {i}", "summary": "S."})))
                       for i in range(12)])
        options = NamerOptions(base_url=server.openai_base_url)
        assert name_run(study.folder, study.store, first, "openai:fake-model", options=options).asked == 12
        assert len(server.requests) == 12
        assert name_run(study.folder, study.store, second, "openai:fake-model", options=options).reused == 12
        assert len(server.requests) == 12  # the other seed's run asked nothing
    assert names_by_members(second) == names_by_members(first)
    assert {r.model for r in NameCache(study.folder).records} == {"fake-model"}
