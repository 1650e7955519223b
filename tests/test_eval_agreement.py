"""Agreement between coders and consensus codes (semclust.validation.evaluate.agreement)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from semclust.validation.evaluate import (
    EvaluationInputError,
    coder_agreement,
    consensus,
    consensus_codes,
    krippendorff_alpha,
    load_codes,
    majority_vote,
    pairwise_kappa,
)

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four
# observers, twelve units, values 1-5, missing data. Rows = units, columns = observers.
TEXTBOOK = pd.DataFrame(
    {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        "C": [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    }
)


def test_nominal_alpha_of_the_textbook_example_by_hand():
    # Coincidence matrix: each unit with m values adds 1/(m-1) per ordered pair of values.
    #   u1 (1,1,1) m=3: o11 += 3;      u2 (2,2,3,2): o22 += 2, o23 = o32 += 1
    #   u3, u4 (3 x4): o33 += 4 each;  u5, u9 (2 x4): o22 += 4 each;  u7 (4 x4): o44 += 4
    #   u6 (1,2,3,4): every ordered pair of distinct values += 1/3
    #   u8 (1,1,2,1): o11 += 2, o12 = o21 += 1;  u10 (5,5,5): o55 += 3;  u11 (1,1): o11 += 2
    #   u12 has one value and is not pairable.
    # Diagonal: o11 = 7, o22 = 10, o33 = 8, o44 = 4, o55 = 3 (sum 32) of n = 40 values,
    # so 8 pairable values disagree. Marginals n_c = 9, 13, 10, 5, 3.
    # alpha = 1 - (n - 1) * disagreeing / (n^2 - sum n_c^2) = 1 - 39 * 8 / (1600 - 384)
    n, disagreeing, marginals = 40, 8, np.array([9, 13, 10, 5, 3])
    by_hand = 1 - (n - 1) * disagreeing / (n**2 - (marginals**2).sum())
    assert by_hand == pytest.approx(0.743, abs=5e-4)  # the value the textbook reports
    assert krippendorff_alpha(TEXTBOOK, "nominal") == pytest.approx(by_hand)


def test_nominal_alpha_of_the_binary_textbook_example_by_hand():
    # Two observers, ten units (Krippendorff 2011, section A). Matches: five 0-0 units and
    # one 1-1 unit; four units disagree. o00 = 10, o11 = 2, o01 = o10 = 4; n0 = 14, n1 = 6.
    # alpha = 1 - (n - 1) * o01 / (n0 * n1) = 1 - 19 * 4 / 84 = 0.095
    ratings = pd.DataFrame(
        {"A": [0, 1, 0, 0, 0, 0, 0, 0, 1, 0], "B": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]}
    )
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(1 - 19 * 4 / 84)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_the_krippendorff_package(level):
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, 60)
    ratings = pd.DataFrame(
        {c: np.where(rng.random(60) < 0.8, truth, rng.integers(0, 3, 60)) for c in "xyz"}
    ).astype(float)
    ratings = ratings.mask(rng.random(ratings.shape) < 0.2)  # missing codes
    expected = krippendorff.alpha(reliability_data=ratings.to_numpy().T, level_of_measurement=level)
    assert krippendorff_alpha(ratings, level) == pytest.approx(expected)
    assert krippendorff_alpha(TEXTBOOK, level) == pytest.approx(
        krippendorff.alpha(reliability_data=TEXTBOOK.to_numpy().T, level_of_measurement=level)
    )


def test_pairwise_kappa_matches_sklearn_on_items_both_coded():
    table = pairwise_kappa(TEXTBOOK)
    assert len(table) == 6
    row = table[(table["coder_a"] == "A") & (table["coder_b"] == "C")].iloc[0]
    both = TEXTBOOK[["A", "C"]].dropna()
    assert row["n_items"] == len(both) == 8
    assert row["kappa"] == pytest.approx(cohen_kappa_score(both["A"], both["C"]))
    weighted = pairwise_kappa(TEXTBOOK, weights="quadratic")
    both = TEXTBOOK[["B", "D"]].dropna()
    assert weighted.iloc[4]["kappa"] == pytest.approx(
        cohen_kappa_score(both["B"], both["D"], weights="quadratic")
    )


def test_majority_vote_ties_go_to_the_first_coder():
    ratings = pd.DataFrame(
        {
            "first": [1, 2, 0, nan, 0, nan],
            "second": [1, 1, 1, 2, 2, nan],
            "third": [0, 1, 2, 2, 2, nan],
        }
    )
    labels, tied = majority_vote(ratings)
    # row 2: three different codes -> the first coder's; row 4: a clear majority of 2
    assert labels.iloc[:5].tolist() == [1, 1, 0, 2, 2]
    assert np.isnan(labels.iloc[5])
    assert tied.tolist() == [False, False, True, False, False, False]
    # with four coders tied 2-2, the first coder holding a top label wins
    four = pd.DataFrame({"a": ["x"], "b": ["y"], "c": ["y"], "d": ["x"]})
    assert majority_vote(four)[0].tolist() == ["x"]


def test_consensus_mean_and_majority():
    ratings = pd.DataFrame({"a": [2, 0, 1], "b": [1, nan, 1], "c": [2, 0, nan]})
    assert consensus(ratings, "mean").tolist() == pytest.approx([5 / 3, 0, 1])
    assert consensus(ratings, "majority").tolist() == [2, 0, 1]
    with pytest.raises(EvaluationInputError, match="'mean' or 'majority'"):
        consensus(ratings, "median")


def test_coder_agreement_and_consensus_from_a_codes_file():
    codes = load_codes(
        pd.DataFrame(
            {
                "id_a": list("aaab"),
                "id_b": list("bcdc"),
                "connotative_ann": [1, 2, 3, 1],  # 1-3 scale
                "connotative_bob": [1, 3, 3, nan],
                "connotative": [1, 3, 3, 1],
            }
        )
    )
    report = coder_agreement(codes, "connotative")
    assert report.coders == ("ann", "bob") and report.n_items == 3
    ratings = codes.ratings("connotative")
    assert ratings.to_numpy()[0].tolist() == [0, 0]  # stored on the 0-2 scale
    assert report.alpha["ordinal"] == pytest.approx(
        krippendorff.alpha(reliability_data=ratings.to_numpy().T, level_of_measurement="ordinal")
    )
    both = ratings.dropna()
    assert report.mean_kappa == pytest.approx(cohen_kappa_score(both["ann"], both["bob"]))
    assert report.to_dict()["kappa"][0]["n_items"] == 3
    assert consensus_codes(codes, "connotative").tolist() == [0, 2, 2, 0]  # agreed column
    assert consensus_codes(codes, "connotative", "mean").tolist() == [0, 1.5, 2, 0]


def test_bad_agreement_input():
    with pytest.raises(EvaluationInputError, match="at least two coders"):
        krippendorff_alpha(TEXTBOOK[["A"]])
    with pytest.raises(EvaluationInputError, match="item coded by two coders"):
        krippendorff_alpha(pd.DataFrame({"a": [1, nan], "b": [nan, 2]}))
    with pytest.raises(EvaluationInputError, match="undefined"):
        krippendorff_alpha(pd.DataFrame({"a": [1, 1], "b": [1, 1]}))
    with pytest.raises(EvaluationInputError, match="item 1, coder 'b': 'x' is not a number"):
        krippendorff_alpha(pd.DataFrame({"a": [1, 2], "b": [1, "x"]}))
    with pytest.raises(EvaluationInputError, match="level must be one of"):
        krippendorff_alpha(TEXTBOOK, "fuzzy")
