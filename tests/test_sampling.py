"""Samples for coders (semclust.validation.sampling): draws, files, and reading answers back."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from semclust.validation.evaluate import load_codes, score_interpretability
from semclust.validation.sampling import (
    Provenance,
    SamplingError,
    consistency_sample,
    draw_balanced_pairs,
    draw_pairs,
    export_consistency,
    export_interpretability,
    export_pairs,
    export_stratified,
    interpretability_test,
    letter_codes,
    read_interpretability,
    stratified_sample,
)


def labels_of(sizes: dict[int, int]) -> pd.Series:
    """Cluster by id, ``sizes[c]`` items in cluster ``c`` (ids name their cluster)."""
    pairs = [(f"c{c}_{i}", c) for c, n in sizes.items() for i in range(n)]
    return pd.Series([c for _, c in pairs], index=[i for i, _ in pairs], name="cluster")


def unordered(frame: pd.DataFrame) -> list[frozenset]:
    return [frozenset(p) for p in zip(frame["id_a"], frame["id_b"], strict=True)]


@pytest.fixture
def images(tmp_path, make_image) -> pd.Series:
    """Image paths for the ids of ``labels_of({0: 4, 1: 4, 2: 4, -1: 2})``."""
    ids = labels_of({0: 4, 1: 4, 2: 4, -1: 2}).index
    paths = [
        str(make_image(tmp_path / "img" / f"{i}.png", size=(40, 30), seed=k))
        for k, i in enumerate(ids)
    ]
    return pd.Series(paths, index=ids)


# --- random pairs ------------------------------------------------------------------------------


def test_drawing_every_pair_gives_each_pair_of_distinct_items_once():
    ids = [f"i{k}" for k in range(9)]
    pairs = draw_pairs(ids, 36, random_state=3)
    expected = {frozenset(p) for p in itertools.combinations(ids, 2)}
    assert sorted(map(sorted, unordered(pairs))) == sorted(map(sorted, expected))
    assert (pairs["id_a"] != pairs["id_b"]).all()


def test_pairs_are_seeded_and_sides_are_random():
    ids = [f"i{k}" for k in range(40)]
    first = draw_pairs(ids, 100, random_state=7)
    pd.testing.assert_frame_equal(first, draw_pairs(ids, 100, random_state=7))
    assert not first.equals(draw_pairs(ids, 100, random_state=8))
    position = {i: k for k, i in enumerate(ids)}
    a_first = [position[a] < position[b] for a, b in zip(first["id_a"], first["id_b"], strict=True)]
    assert 20 < sum(a_first) < 80  # either image may be shown on the left
    assert len(set(unordered(first))) == 100


def test_pairs_are_uniform_over_all_pairs():
    # 6 items -> 15 pairs; 3 pairs per draw, 400 draws: each pair expected 80 times (sd ~8)
    ids = list("abcdef")
    drawn = [p for seed in range(400) for p in unordered(draw_pairs(ids, 3, seed))]
    counts = pd.Series(drawn).value_counts()
    assert len(counts) == 15
    assert counts.min() > 50 and counts.max() < 110


def test_more_pairs_than_exist_is_an_error():
    with pytest.raises(
        SamplingError, match="asked for 4 pairs of distinct images but there are only 3"
    ):
        draw_pairs(["a", "b", "c"], 4)
    with pytest.raises(SamplingError, match="appears more than once"):
        draw_pairs(["a", "b", "a"], 1)


# --- balanced pairs ----------------------------------------------------------------------------


def test_balanced_pairs_are_half_same_half_different_and_mixed():
    labels = labels_of({0: 5, 1: 4, 2: 3, -1: 4})
    pairs = draw_balanced_pairs(labels, 31, random_state=0)
    same = labels[pairs["id_a"]].to_numpy() == labels[pairs["id_b"]].to_numpy()
    assert same.sum() == 15 and (~same).sum() == 16
    assert not labels[pd.concat([pairs["id_a"], pairs["id_b"]])].eq(-1).any()
    assert len(set(unordered(pairs))) == 31 and (pairs["id_a"] != pairs["id_b"]).all()
    # shuffled: the same-cluster pairs are not grouped at the start or the end
    assert 0 < same[:15].sum() < 15


def test_balanced_pairs_cover_exactly_the_same_cluster_pairs():
    labels = labels_of({0: 4, 1: 3, 5: 2})  # 6 + 3 + 1 = 10 same-cluster pairs
    pairs = draw_balanced_pairs(labels, 20, random_state=1)
    same = pairs[labels[pairs["id_a"]].to_numpy() == labels[pairs["id_b"]].to_numpy()]
    expected = {
        frozenset(p)
        for c in (0, 1, 5)
        for p in itertools.combinations(labels.index[labels == c], 2)
    }
    assert set(unordered(same)) == expected


def test_balanced_pairs_say_when_a_run_has_too_few_same_cluster_pairs():
    with pytest.raises(SamplingError, match="asked for 5 same-cluster pairs but there are only 4"):
        draw_balanced_pairs(labels_of({0: 2, 1: 2, 2: 2, 3: 2}), 10)


# --- stratified, consistency -------------------------------------------------------------------


def test_stratified_sample_follows_casas_rule_on_clusters_of_1_3_6_7():
    labels = labels_of({0: 1, 1: 3, 2: 6, 3: 7, -1: 5})
    sample = stratified_sample(labels, random_state=0)
    counts = sample.groupby("cluster").size()
    assert counts.to_dict() == {1: 2, 2: 5, 3: 5}  # none from size 1, N-1 from 3 and 6, 5 from 7
    assert (labels[sample["id"]].to_numpy() == sample["cluster"].to_numpy()).all()
    assert sample["id"].is_unique and sample["item"].tolist() == list(range(1, 13))
    weights = sample.drop_duplicates("cluster").set_index("cluster")["weight"]
    assert weights.to_dict() == pytest.approx({1: 3 / 2, 2: 6 / 5, 3: 7 / 5})
    assert not sample["cluster"].is_monotonic_increasing  # shuffled
    pd.testing.assert_frame_equal(sample, stratified_sample(labels, random_state=0))


def test_stratified_numbers_are_configurable():
    labels = labels_of({0: 1, 1: 3, 2: 6, 3: 7})
    counts = stratified_sample(labels, per_cluster=2, leave_out=0).groupby("cluster").size()
    assert counts.to_dict() == {0: 1, 1: 2, 2: 2, 3: 2}
    with pytest.raises(SamplingError, match="leave_out"):
        stratified_sample(labels, leave_out=-1)
    with pytest.raises(SamplingError, match="no cluster is large enough"):
        stratified_sample(labels_of({0: 1, 1: 1}))


def test_consistency_sample_takes_ten_per_cluster_or_all():
    labels = labels_of({0: 25, 1: 4, -1: 9})
    sample = consistency_sample(labels, random_state=2)
    assert sample.groupby("cluster").size().to_dict() == {0: 10, 1: 4}
    assert sample["id"].is_unique
    assert sample["cluster"].is_monotonic_increasing


# --- interpretability --------------------------------------------------------------------------


def test_interpretability_sets_are_disjoint_single_cluster_sets_with_lettered_descriptions():
    labels = labels_of({0: 20, 1: 16, 2: 7, 3: 2, -1: 5})
    descriptions = {c: f"words of {c}" for c in range(4)}
    test = interpretability_test(labels, descriptions, n_sets=5, set_size=3, random_state=0)
    sets = test.sets
    assert sets.groupby("true_cluster").size().to_dict() == {0: 5, 1: 5, 2: 2}
    for items, cluster in zip(sets["items"], sets["true_cluster"], strict=True):
        assert len(items) == 3 and set(labels[list(items)]) == {cluster}
    every_item = [i for items in sets["items"] for i in items]
    assert len(every_item) == len(set(every_item))
    assert sets["set_id"].tolist() == [f"S{i:03d}" for i in range(1, 13)]
    assert not sets["true_cluster"].is_monotonic_increasing
    # every cluster is offered once, the small one too, under a letter
    assert sorted(test.letters["cluster"]) == [0, 1, 2, 3]
    assert test.letters["letter"].tolist() == ["A", "B", "C", "D"]
    assert all(
        d == descriptions[c]
        for c, d in zip(test.letters["cluster"], test.letters["description"], strict=True)
    )


def test_interpretability_needs_a_description_for_every_cluster():
    with pytest.raises(SamplingError, match="cluster 1 has no description"):
        interpretability_test(labels_of({0: 6, 1: 6}), {0: "x"})


def test_letters_continue_like_spreadsheet_columns():
    codes = letter_codes(703)
    assert codes[:3] == ["A", "B", "C"]
    assert codes[25:28] == ["Z", "AA", "AB"]
    assert codes[701:] == ["ZZ", "AAA"]


# --- files -------------------------------------------------------------------------------------


def test_pair_files_never_reveal_clusters(tmp_path, images):
    labels = labels_of({0: 4, 1: 4, 2: 4, -1: 2})
    pairs = draw_balanced_pairs(labels, 12, random_state=0)
    provenance = Provenance("pairs", "study", "run-1", 0, {"n": 12, "balanced": True})
    written = export_pairs(
        pairs, images, tmp_path / "s" / "pairs", provenance, coders=["ann", "bob"]
    )
    csv, html, sidecar = (tmp_path / "s" / f"pairs{s}" for s in (".csv", ".html", ".json"))
    assert written == [csv, html, sidecar]
    table = pd.read_csv(csv)
    assert table.columns.tolist() == [
        "pair",
        "id_a",
        "id_b",
        "image_a",
        "image_b",
        "denotative_ann",
        "denotative_bob",
        "connotative_ann",
        "connotative_bob",
    ]
    assert table[["id_a", "id_b"]].equals(pairs)
    assert table["image_a"].tolist() == images[pairs["id_a"]].tolist()
    page = html.read_text()
    assert "cluster" not in page.lower() and "cluster" not in csv.read_text().lower()
    assert page.count("data:image/jpeg;base64,") == 24
    assert all(f"Pair {k}<" in page for k in range(1, 13))
    record = json.loads(sidecar.read_text())
    assert (record["run"], record["seed"], record["parameters"]["n"]) == ("run-1", 0, 12)
    assert record["files"] == ["pairs.csv", "pairs.html"]


def test_filled_pair_csv_reads_as_codes(tmp_path, images):
    pairs = draw_pairs(images.index, 10, random_state=0)
    export_pairs(pairs, images, tmp_path / "p", Provenance("pairs", "s", None, 0), coders=["ann"])
    table = pd.read_csv(tmp_path / "p.csv")
    table["connotative_ann"] = [0, 2] * 5
    codes = load_codes(table)
    assert codes.dimensions == ("denotative", "connotative")
    assert codes.coder_columns("connotative") == ["connotative_ann"]


def test_export_refuses_to_overwrite_coders_work(tmp_path, images):
    pairs = draw_pairs(images.index, 3, random_state=0)
    provenance = Provenance("pairs", "s", None, 0)
    export_pairs(pairs, images, tmp_path / "p", provenance, coders=["ann"])
    (tmp_path / "p.csv").write_text("filled in")
    with pytest.raises(SamplingError, match="p.csv exists"):
        export_pairs(pairs, images, tmp_path / "p", provenance, coders=["ann"])
    assert (tmp_path / "p.csv").read_text() == "filled in"
    export_pairs(pairs, images, tmp_path / "p", provenance, coders=["ann"], overwrite=True)
    assert (tmp_path / "p.csv").read_text().startswith("pair,id_a")


@pytest.mark.parametrize("coders", [["ann", "ann"], ["a b"], []])
def test_coder_names_must_make_clean_columns(tmp_path, images, coders):
    pairs = draw_pairs(images.index, 3, random_state=0)
    with pytest.raises(SamplingError, match="coder"):
        export_pairs(
            pairs, images, tmp_path / "p", Provenance("pairs", "s", None, 0), coders=coders
        )


def test_stratified_and_consistency_files(tmp_path, images):
    labels = labels_of({0: 4, 1: 4, 2: 4, -1: 2})
    provenance = Provenance("stratified", "s", "r", 0)
    export_stratified(stratified_sample(labels), images, tmp_path / "st", provenance)
    table = pd.read_csv(tmp_path / "st.csv")
    assert table.columns.tolist() == ["item", "id", "image", "cluster", "cluster_size", "weight"]
    assert "Cluster" not in (tmp_path / "st.html").read_text()
    items = pd.DataFrame(
        {"id": images.index, "image": images.to_numpy(), "text": "post <b>text</b>"}
    )
    sample = consistency_sample(labels, per_cluster=2)
    export_consistency(
        sample, items, tmp_path / "co", provenance, coders=["x", "y"], text_column="text"
    )
    coded = pd.read_csv(tmp_path / "co.csv")
    assert coded.columns.tolist() == ["id", "cluster", "image", "text", "theme_x", "theme_y"]
    page = (tmp_path / "co.html").read_text()
    assert all(f"Cluster {c}" in page for c in range(3))
    assert "post &lt;b&gt;text&lt;/b&gt;" in page  # escaped


def test_interpretability_files_round_trip_to_a_perfect_score(tmp_path, images):
    labels = labels_of({0: 4, 1: 4, 2: 4, -1: 2})
    test = interpretability_test(labels, {0: "sun", 1: "sea", 2: "city"}, n_sets=1, set_size=3)
    provenance = Provenance("interpretability", "s", "run-9", 0)
    export_interpretability(test, images, tmp_path / "it", provenance, evaluators=["ann", "bob"])
    page = (tmp_path / "it.html").read_text()
    assert "cluster" not in page.lower()
    assert all(f"<dt>{letter}</dt>" in page for letter in "ABC")
    key = pd.read_csv(tmp_path / "it-key.csv")
    letters = pd.read_csv(tmp_path / "it-letters.csv")
    answers = pd.read_csv(tmp_path / "it-answers.csv")
    assert (
        answers.columns.tolist() == ["set_id", "ann", "bob"]
        and answers[["ann", "bob"]].isna().all().all()
    )
    letter_of = dict(zip(letters["cluster"], letters["letter"], strict=True))
    answers["ann"] = [letter_of[c].lower() for c in key["true_cluster"]]  # case does not matter
    answers["bob"] = [letter_of[c] for c in key["true_cluster"]]
    answers.loc[2, "bob"] = None  # a skipped set
    answers.to_csv(tmp_path / "it-answers.csv", index=False)
    read = read_interpretability(tmp_path / "it-answers.csv", tmp_path / "it-key.csv")
    assert read.run == "run-9" and read.clusters == [0, 1, 2] and read.n_unanswered == 0
    assert read.table["ann"].tolist() == key["true_cluster"].tolist()
    result = score_interpretability(read.table, evaluators=read.evaluators, clusters=read.clusters)
    assert result.accuracy == 1.0 and result.chance == pytest.approx(1 / 3)


def test_interpretability_answers_with_a_stray_letter_name_line_and_column(tmp_path, images):
    labels = labels_of({0: 4, 1: 4, 2: 4})
    test = interpretability_test(labels, {0: "a", 1: "b", 2: "c"}, n_sets=1, set_size=3)
    export_interpretability(
        test, images, tmp_path / "it", Provenance("i", "s", "r", 0), evaluators=["ann"]
    )
    answers = pd.DataFrame({"set_id": ["S001", "S002", "S003"], "ann": ["A", "Q", "B"]})
    answers.to_csv(tmp_path / "answers.csv", index=False)
    with pytest.raises(SamplingError, match=r"line 3 of answers.csv, column 'ann': 'Q' is not one"):
        read_interpretability(tmp_path / "answers.csv", tmp_path / "it-key.csv")
    answers.loc[1, "ann"] = "C"
    answers.loc[2, "set_id"] = "S999"
    answers.to_csv(tmp_path / "answers.csv", index=False)
    with pytest.raises(SamplingError, match="line 4 of answers.csv: set 'S999' is not in the key"):
        read_interpretability(tmp_path / "answers.csv", tmp_path / "it-key.csv")


def test_unanswered_sets_are_counted_not_scored(tmp_path, images):
    labels = labels_of({0: 4, 1: 4, 2: 4})
    test = interpretability_test(labels, {0: "a", 1: "b", 2: "c"}, n_sets=1, set_size=3)
    export_interpretability(
        test, images, tmp_path / "it", Provenance("i", "s", "r", 0), evaluators=["ann"]
    )
    answers = pd.read_csv(tmp_path / "it-answers.csv", dtype=str)
    answers.loc[0, "ann"] = "A"
    answers.to_csv(tmp_path / "it-answers.csv", index=False)
    read = read_interpretability(tmp_path / "it-answers.csv", tmp_path / "it-key.csv")
    assert read.n_unanswered == 2 and read.table["set_id"].tolist() == ["S001"]
    assert np.isfinite(read.table["true_cluster"]).all()


def test_out_given_as_a_file_name_is_taken_as_the_prefix(tmp_path, images):
    """`--out pairs.csv` writes pairs.csv, pairs.html, pairs.json — not pairs.csv.csv."""
    pairs = draw_pairs(images.index, 4, random_state=0)
    written = export_pairs(pairs, images, tmp_path / "pairs.csv", Provenance("pairs", "s", None, 0),
                           coders=["ann"])
    assert sorted(p.name for p in written) == ["pairs.csv", "pairs.html", "pairs.json"]
