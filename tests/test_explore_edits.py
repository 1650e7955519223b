"""Edits on hand-worked examples, the CLI's edit syntax, and refine + replay on a small study."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explore_corpus import make_study
from semclust.exploration.edits import Clustering, EditError, apply_edits, parse_cli_edits
from semclust.exploration.refine import refine_run, replay_run

# cluster 0 around x=0, cluster 1 around x=10; two outliers at x=4 (nearer 0) and x=7 (nearer 1)
POSITIONS = [-1.0, 0.0, 1.0, 9.0, 11.0, 4.0, 7.0]
LABELS = [0, 0, 0, 1, 1, -1, -1]


def state(labels=LABELS, positions=POSITIONS) -> Clustering:
    reduced = np.array([[p, 0.0] for p in positions])
    return Clustering([f"i{k}" for k in range(len(labels))], np.array(labels), np.ones(len(labels)), reduced)


def test_outliers_go_to_the_nearest_centroid_most_confident_first():
    # 7 items, target 0.15 -> at most floor(1.05) = 1 outlier stays; x=7 is 3 from centroid 10,
    # x=4 is 4 from centroid 0, so only x=7 moves, to cluster 1
    out = apply_edits(state(), [{"op": "outliers", "method": "nearest", "target": 0.15}])
    assert out.labels.tolist() == [0, 0, 0, 1, 1, -1, 1]
    assert np.isnan(out.probability[6]) and out.probability[0] == 1.0
    everything = apply_edits(state(), [{"op": "outliers", "method": "nearest", "target": 0.0}])
    assert everything.labels.tolist() == [0, 0, 0, 1, 1, 0, 1]
    unchanged = apply_edits(state(), [{"op": "outliers", "method": "nearest", "target": 0.5}])
    assert unchanged.labels.tolist() == LABELS  # 2/7 < 0.5 already


def test_merge_keeps_the_first_number_and_a_name():
    named = state()
    named.names = {1: {"name": "Sea"}}
    out = apply_edits(named, [{"op": "merge", "clusters": [0, 1]}])
    assert out.labels.tolist() == [0, 0, 0, 0, 0, -1, -1]
    assert out.names == {0: {"name": "Sea"}}
    assert named.labels.tolist() == LABELS  # the input is not changed


def test_split_keeps_the_number_for_the_largest_part_and_numbers_the_rest_after_the_max():
    positions = [-5.0, -4.9, -4.8, 5.0, 5.1, 20.0, -1.0]
    labels = [0, 0, 0, 0, 0, 1, -1]
    out = apply_edits(state(labels, positions), [{"op": "split", "cluster": 0, "clusterer": "kmeans:2"}], seed=0)
    assert out.labels.tolist() == [0, 0, 0, 2, 2, 1, -1]


def test_move_drop_and_name():
    out = apply_edits(state(), [
        {"op": "name", "cluster": 1, "name": "Ocean"},
        {"op": "move", "ids": ["i0", "i5"], "cluster": 1},
        {"op": "drop", "cluster": 0},
    ])
    assert out.labels.tolist() == [1, -1, -1, 1, 1, 1, -1]
    assert out.names == {1: {"name": "Ocean"}}


@pytest.mark.parametrize("edit, message", [
    ({"op": "merge", "clusters": [0, 5]}, "no cluster 5"),
    ({"op": "merge", "clusters": [0, 0]}, "two different"),
    ({"op": "move", "ids": ["nope"], "cluster": 0}, "not clustered in this run: nope"),
    ({"op": "split", "cluster": 1, "clusterer": "kmeans:3"}, "only 2 items"),
    ({"op": "outliers", "method": "soft", "target": 0.1}, "needs an hdbscan run"),
    ({"op": "outliers", "method": "nearest", "target": 1.5}, "[0, 1)"),
    ({"op": "frobnicate"}, "'op' is one of"),
    ({"op": "drop"}, "lacks the field 'cluster'"),
])
def test_bad_edits_say_what_is_wrong(edit, message):
    with pytest.raises(EditError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        apply_edits(state(), [edit], base_clusterer="kmeans:2")


def test_soft_membership_follows_hdbscans_own_membership_vectors():
    import hdbscan

    rng = np.random.default_rng(0)
    reduced = np.vstack([rng.normal(0, 0.3, (40, 2)), rng.normal(6, 0.3, (40, 2)), [[1.5, 0.0], [4.5, 0.0]]])
    model = hdbscan.HDBSCAN(min_cluster_size=10, prediction_data=True).fit(reduced)
    expected = hdbscan.all_points_membership_vectors(model)[-2:].argmax(axis=1)  # the library's soft clustering
    labels = model.labels_.copy()
    labels[-2:] = -1
    start = Clustering([str(i) for i in range(len(labels))], labels, np.ones(len(labels)), reduced)
    out = apply_edits(start, [{"op": "outliers", "method": "soft", "target": 0.0}], base_clusterer="hdbscan:10")
    assert out.labels[-2:].tolist() == expected.tolist()
    assert (out.labels >= 0).all()


def test_cli_syntax():
    edits = parse_cli_edits(names=['3=Protest signs'], summaries=["3=Crowds with banners."],
                            merges=["3,7"], splits=["5:kmeans:2"], moves=["id1,id:2:4"], drops=["9"],
                            outliers="nearest:0.05")
    assert edits == [
        {"op": "name", "cluster": 3, "name": "Protest signs"},
        {"op": "name", "cluster": 3, "name": "Protest signs", "summary": "Crowds with banners."},
        {"op": "merge", "clusters": [3, 7]},
        {"op": "split", "cluster": 5, "clusterer": "kmeans:2"},
        {"op": "move", "ids": ["id1", "id:2"], "cluster": 4},
        {"op": "drop", "cluster": 9},
        {"op": "outliers", "method": "nearest", "target": 0.05},
    ]
    for bad in ({"merges": ["3"]}, {"splits": ["5"]}, {"outliers": "closest:0.1"}, {"names": ["x=y"]}):
        with pytest.raises(EditError):
            parse_cli_edits(**bad)


def test_refine_records_lineage_and_replays_identically(tmp_path):
    study, root = make_study(tmp_path, 400, n_images=12, k=4)
    with study:
        child = refine_run(study, root.id, [{"op": "merge", "clusters": [0, 1]},
                                            {"op": "name", "cluster": 2, "name": "Floods <b>"}], report=False)
        grandchild = refine_run(study, child, [{"op": "split", "cluster": 0, "clusterer": "kmeans:2"},
                                               {"op": "outliers", "method": "nearest", "target": 0.0}])
        config = json.loads((grandchild.folder / "config.json").read_text())
        assert config["parent_run"] == child.id and config["root_run"] == root.id
        assert [e["op"] for e in config["edits"]] == ["split", "outliers"]
        assert [e["op"] for e in config["edits_from_root"]] == ["merge", "name", "split", "outliers"]
        table = grandchild.assignments
        assert set(table.loc[table["cluster"] == 2, "cluster_name"]) == {"Floods <b>"}
        clusters = grandchild.clusters.set_index("cluster")
        assert clusters.loc[2, "name"] == "Floods <b>" and clusters["size"].sum() == table["cluster"].notna().sum()
        assert (clusters.loc[4, "keywords"] != [])  # the new part got keywords of its own
        assert "Floods &lt;b&gt;" in (grandchild.folder / "report.html").read_text()
        assert (root.folder / "assignments.parquet").exists()  # the parent is untouched: undo = open it
        replayed, same = replay_run(study, grandchild.id, report=False)
        assert same and replayed.id not in (root.id, child.id, grandchild.id)
        with pytest.raises(Exception, match="no edits to replay"):
            replay_run(study, root.id)
