"""Grimmer-King quality and the coded-pairs file it reads (semclust.validation.evaluate.quality/.codes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from semclust.validation.evaluate import (
    EvaluationInputError,
    grimmer_king,
    grimmer_king_by_dimension,
    load_codes,
    match_pairs,
)

# Eight images: a, b, c in cluster 0; d, e in cluster 1; h in cluster 2; f is an outlier;
# g is in cluster 1 but has no description.
ASSIGNMENTS = pd.DataFrame(
    {
        "id": list("abcdefgh"),
        "cluster": [0, 0, 0, 1, 1, -1, 1, 2],
        "description": ["text"] * 6 + [None, "text"],
    }
)

# Seven coded pairs, agreed codes on the 0-2 scale.
#   pair  clusters        status          connotative  denotative
#   a-b   0, 0            same            2            1
#   a-c   0, 0            same            1            2
#   d-e   1, 1            same            2            0
#   a-d   0, 1            different       0            1
#   c-h   0, 2            different       1            0
#   b-f   0, outlier      excluded        2            2
#   e-g   1, 1 (no desc.) excluded        0            0
HAND = pd.DataFrame(
    {
        "id_a": ["a", "a", "d", "a", "c", "b", "e"],
        "id_b": ["b", "c", "e", "d", "h", "f", "g"],
        "connotative": [2, 1, 2, 0, 1, 2, 0],
        "denotative": [1, 2, 0, 1, 0, 2, 0],
    }
)


def test_hand_worked_example_with_lowered_thresholds():
    # connotative: same (2 + 1 + 2) / 3 = 5/3, different (0 + 1) / 2 = 1/2 -> 7/6
    # denotative:  same (1 + 2 + 0) / 3 = 1,   different (1 + 0) / 2 = 1/2 -> 1/2
    scores = grimmer_king_by_dimension(ASSIGNMENTS, HAND, min_same=3, min_diff=2)
    con, den = scores["connotative"], scores["denotative"]
    assert con.score == pytest.approx(7 / 6)
    assert (con.mean_same, con.mean_diff) == (pytest.approx(5 / 3), pytest.approx(1 / 2))
    assert den.score == pytest.approx(1 / 2)
    for score in (con, den):
        assert (score.n_same, score.n_diff, score.n_excluded) == (3, 2, 2)
        assert score.scorable and score.reason is None


def test_match_pairs_names_why_a_pair_is_left_out():
    status = match_pairs(ASSIGNMENTS, load_codes(HAND))
    assert status.tolist() == [
        "same",
        "same",
        "same",
        "different",
        "different",
        "outlier",
        "no_description",
    ]


def test_too_few_pairs_is_not_scorable_but_keeps_counts():
    score = grimmer_king(ASSIGNMENTS, HAND, "connotative", min_same=4, min_diff=2)
    assert score.score is None and not score.scorable
    assert (score.n_same, score.n_diff) == (3, 2)
    assert score.mean_same == pytest.approx(5 / 3)
    assert "3 same-cluster pairs (fewer than 4)" in score.reason
    assert "different-cluster" not in score.reason


def _many_pairs(n_same: int, n_diff: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Images 0..199 in clusters of two: pair (2i, 2i+1) is same-cluster, (2i, 2i+2) not."""
    assignments = pd.DataFrame({"id": [str(i) for i in range(200)], "cluster": np.arange(200) // 2})
    same = [(str(2 * i), str(2 * i + 1)) for i in range(n_same)]
    diff = [(str(2 * i), str(2 * i + 2)) for i in range(n_diff)]
    codes = pd.DataFrame(same + diff, columns=["id_a", "id_b"])
    codes["connotative"] = [2] * n_same + [0] * n_diff
    return assignments, codes


def test_fifty_fifty_rule():
    assignments, codes = _many_pairs(50, 49)
    short = grimmer_king(assignments, codes)
    assert short.score is None and not short.scorable
    assert (short.n_same, short.n_diff) == (50, 49)
    assert short.reason == "only 49 different-cluster pairs (fewer than 50)"

    assignments, codes = _many_pairs(50, 50)
    enough = grimmer_king(assignments, codes)
    assert enough.scorable and enough.score == pytest.approx(2.0)
    assert enough.to_dict() == {
        "dimension": "connotative",
        "score": 2.0,
        "mean_same": 2.0,
        "mean_diff": 0.0,
        "n_same": 50,
        "n_diff": 50,
        "n_excluded": 0,
        "scorable": True,
        "reason": None,
    }


def test_one_to_three_scale_maps_to_zero_to_two():
    shifted = HAND.assign(connotative=HAND["connotative"] + 1, denotative=HAND["denotative"] + 1)
    detected = load_codes(shifted)
    assert detected.scale == "1-3"
    assert detected.frame["connotative"].tolist() == HAND["connotative"].tolist()
    explicit = grimmer_king(ASSIGNMENTS, load_codes(shifted, scale="1-3"), min_same=3, min_diff=2)
    assert explicit.score == pytest.approx(7 / 6)


def test_scale_detection_refuses_to_guess():
    only_ones_and_twos = HAND.assign(connotative=1, denotative=2)
    with pytest.raises(EvaluationInputError, match="scale='0-2' or scale='1-3'"):
        load_codes(only_ones_and_twos)
    assert load_codes(only_ones_and_twos, scale="0-2").frame["denotative"].eq(2).all()
    assert load_codes(only_ones_and_twos, scale="1-3").frame["denotative"].eq(1).all()
    with pytest.raises(EvaluationInputError, match="neither the 0-2 nor the 1-3.*row 1 has conno"):
        load_codes(HAND.assign(connotative=[0, 3, 1, 1, 1, 1, 1]))


def test_coders_are_averaged_unless_an_agreed_column_exists():
    coders = HAND[["id_a", "id_b"]].assign(
        connotative_ann=[2, 1, 2, 0, 1, 2, 0],
        connotative_bob=[2, 0, 1, 0, 2, np.nan, 0],
    )
    # same: (2+2)/2, (1+0)/2, (2+1)/2 -> mean (2 + 0.5 + 1.5)/3 = 4/3;
    # different: (0+0)/2, (1+2)/2 -> mean (0 + 1.5)/2 = 0.75
    mean = grimmer_king(ASSIGNMENTS, coders, min_same=3, min_diff=2)
    assert mean.score == pytest.approx(4 / 3 - 0.75)
    agreed = grimmer_king(
        ASSIGNMENTS, coders.assign(connotative=HAND["connotative"]), min_same=3, min_diff=2
    )
    assert agreed.score == pytest.approx(7 / 6)


def test_uncoded_pairs_are_excluded():
    partly = HAND.assign(connotative=[2, np.nan, 2, 0, 1, 2, 0])
    score = grimmer_king(ASSIGNMENTS, partly, min_same=2, min_diff=2)
    assert (score.n_same, score.n_diff, score.n_excluded) == (2, 2, 3)
    assert score.score == pytest.approx(2 - 0.5)


def test_csv_keeps_ids_as_text_and_names_lines(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("id_a,id_b,connotative_ann\n007,008,2\n007,009,0\n")
    codes = load_codes(path)
    assert codes.frame["id_a"].tolist() == ["007", "007"]
    path.write_text("id_a,id_b,connotative_ann\n007,008,2\n007,009,0\n008,009,5\n")
    with pytest.raises(
        EvaluationInputError, match=r"line 3 of codes\.csv has connotative_ann = 0 but line 4"
    ):
        load_codes(path)
    with pytest.raises(EvaluationInputError, match=r"line 4 of codes\.csv: connotative_ann = 5"):
        load_codes(path, scale="0-2")


BAD_CODES = [
    (HAND.drop(columns="id_b"), r"lacks the column\(s\) \['id_b'\]"),
    (HAND.iloc[:0], "has no rows"),
    (HAND[["id_a", "id_b"]].assign(note="x"), "no code column"),
    (HAND.assign(id_b=["b", "a", "e", "d", "h", "f", "g"]), "row 1: pairs image 'a' with itself"),
    (
        pd.concat([HAND, HAND.iloc[[3]].rename(columns={"id_a": "id_b", "id_b": "id_a"})]),
        r"row 7: the pair 'a', 'd' is coded twice \(first at row 3\)",
    ),
    (HAND.assign(connotative=[2, 1, 2, 0, 1, 2, "high"]), "row 6: connotative is 'high'"),
    (HAND.assign(connotative=[2, 1, 2, -1, 1, 2, 0]), "row 3: connotative = -1 is outside"),
    (
        HAND.assign(connotative_ann=[2, 1, 1.5, 0, 1, 2, 0]),
        "row 2: connotative_ann = 1.5 is not a whole number",
    ),
    (HAND.assign(same=[1, 0, 2, 0, 1, 1, 0]), "row 2: same = 2 is not 0 or 1"),
    (HAND.assign(id_a=["a", None, "d", "a", "c", "b", "e"]), "row 1: id_a is empty"),
]


@pytest.mark.parametrize(("codes", "message"), BAD_CODES)
def test_bad_codes_name_the_row(codes, message):
    with pytest.raises(EvaluationInputError, match=message):
        grimmer_king(ASSIGNMENTS, codes, min_same=1, min_diff=1)


BAD_ASSIGNMENTS = [
    (ASSIGNMENTS.iloc[:0], "assignments has no rows"),
    (ASSIGNMENTS.drop(columns="cluster"), r"lacks the column\(s\) \['cluster'\]"),
    (ASSIGNMENTS.assign(id=list("abcdefga")), "assignments row 7: id 'a' appears more than once"),
    (ASSIGNMENTS.assign(cluster=[0, 0, 0.5, 1, 1, -1, 1, 2]), "row 2 .*not a whole number"),
    (ASSIGNMENTS[ASSIGNMENTS["id"] != "h"], r"row 4 \(id_a='c', id_b='h'\): image 'h' is not"),
]


@pytest.mark.parametrize(("assignments", "message"), BAD_ASSIGNMENTS)
def test_bad_assignments_name_the_row(assignments, message):
    with pytest.raises(EvaluationInputError, match=message):
        grimmer_king(assignments, HAND, min_same=1, min_diff=1)


def test_bad_arguments():
    with pytest.raises(EvaluationInputError, match="pair_scores"):
        grimmer_king(ASSIGNMENTS, HAND.assign(same=1), "same")
    with pytest.raises(EvaluationInputError, match="min_diff must be a positive"):
        grimmer_king(ASSIGNMENTS, HAND, min_diff=0)
    with pytest.raises(EvaluationInputError, match="no agreed 'connotative' column"):
        grimmer_king(
            ASSIGNMENTS, HAND.rename(columns={"connotative": "connotative_x"}), consensus="column"
        )
