"""Scoring the interpretability test (semclust.validation.evaluate.interpretability)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from semclust.validation.evaluate import EvaluationInputError, score_interpretability

# Six image sets from three clusters, two evaluators. Where they disagree the majority is a
# tie, and the first evaluator's label counts (Arminio et al., section 3.2).
#   set  true  ann  bob  majority
#   s1   0     0    0    0
#   s2   0     0    1    0  (tie -> ann)
#   s3   1     1    1    1
#   s4   1     2    1    2  (tie -> ann)
#   s5   2     2    2    2
#   s6   2     1    1    1
TABLE = pd.DataFrame(
    {
        "set_id": ["s1", "s2", "s3", "s4", "s5", "s6"],
        "true_cluster": [0, 0, 1, 1, 2, 2],
        "ann": [0, 0, 1, 2, 2, 1],
        "bob": [0, 1, 1, 1, 2, 1],
    }
)


def test_hand_worked_two_evaluators_with_ties():
    result = score_interpretability(TABLE)
    assert result.majority.tolist() == [0, 0, 1, 2, 2, 1]
    assert result.n_tied == 2 and result.n_sets == 6
    # rows true cluster, columns majority label
    assert result.confusion.to_numpy().tolist() == [[2, 0, 0], [0, 1, 1], [0, 1, 1]]
    # precision: 0 -> 2/2; 1 -> s3 right of {s3, s6}; 2 -> s5 right of {s4, s5}
    # recall:    0 -> 2/2; 1 -> 1/2; 2 -> 1/2
    assert result.per_cluster["precision"].tolist() == [1, 0.5, 0.5]
    assert result.per_cluster["recall"].tolist() == [1, 0.5, 0.5]
    assert result.per_cluster["n_sets"].tolist() == [2, 2, 2]
    assert result.per_cluster["n_assigned"].tolist() == [2, 2, 2]
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.mean_precision == pytest.approx(2 / 3)
    assert result.mean_recall == pytest.approx(2 / 3)
    assert result.chance == pytest.approx(1 / 3)
    # kappa(ann, bob): observed agreement 4/6; ann's marginals (2, 2, 2), bob's (1, 4, 1):
    # expected (2*1 + 2*4 + 2*1) / 36 = 1/3, so kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5
    assert result.mean_kappa == pytest.approx(0.5)
    assert result.mean_kappa == pytest.approx(cohen_kappa_score(TABLE["ann"], TABLE["bob"]))
    assert result.merged_accuracy is None


def test_merging_clusters():
    # merging 1 and 2 makes every majority label right
    assert score_interpretability(TABLE, merge=[(1, 2)]).merged_accuracy == 1.0
    # labels are merged before the vote: ann 0 / bob 1 / cem 2 on a set from 1 is a tie
    # (ann's 0, wrong) unless 1 and 2 are one cluster, when bob and cem outvote ann
    three = pd.DataFrame({"set_id": [1], "true_cluster": [1], "ann": [0], "bob": [1], "cem": [2]})
    result = score_interpretability(three, clusters=[0, 1, 2], merge=[(2, 1)])
    assert (result.accuracy, result.merged_accuracy) == (0.0, 1.0)
    # merges chain: 0-1 and 1-2 put all three clusters together
    assert score_interpretability(TABLE, merge=[(0, 1), (1, 2)]).merged_accuracy == 1.0


def test_clusters_offered_set_the_chance_level_and_the_means():
    result = score_interpretability(TABLE, clusters=[0, 1, 2, 3])
    assert result.chance == 0.25
    assert result.per_cluster["precision"].tolist() == [1, 0.5, 0.5, 0]  # 3: never chosen
    assert result.mean_precision == pytest.approx(2 / 4)


def test_labels_read_from_csv_as_floats_or_text_are_matched():
    floats = TABLE.assign(bob=[0, 1, 1, np.nan, 2, 1])  # an empty cell: the column is float
    result = score_interpretability(floats)
    assert result.majority.tolist() == [0, 0, 1, 2, 2, 1]
    named = TABLE.replace(
        {c: {0: "ice", 1: "coal", 2: "sea"} for c in ["true_cluster", "ann", "bob"]}
    )
    assert score_interpretability(named).accuracy == pytest.approx(4 / 6)


def test_one_evaluator_has_no_kappa():
    result = score_interpretability(TABLE, evaluators=["bob"])
    assert np.isnan(result.mean_kappa) and result.n_tied == 0
    assert result.accuracy == pytest.approx(4 / 6)  # s2 and s4 wrong


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        (TABLE, {"clusters": []}, "cluster list is empty"),
        (TABLE, {"clusters": [0, 1]}, "row 4, column 'true_cluster': 2 is not among"),
        (TABLE.assign(bob=[0, 1, 1, 7, 2, 1]), {}, "row 3, column 'bob': 7 is not among"),
        (TABLE.assign(set_id=["s1", "s2", "s3", "s1", "s5", "s6"]), {}, "row 3: set_id 's1'"),
        (TABLE.assign(ann=np.nan, bob=[0, 1, np.nan, 1, 2, 1]), {}, "row 2: no evaluator"),
        (TABLE[["set_id", "true_cluster"]], {}, "no evaluator column"),
        (TABLE.drop(columns="true_cluster"), {}, r"lacks the column\(s\) \['true_cluster'\]"),
        (TABLE.iloc[:0], {}, "has no rows"),
        (TABLE, {"merge": [(1, 9)]}, r"merge pair \(1, 9\) names a cluster not offered"),
        (TABLE, {"evaluators": ["ann", "cem"]}, r"\['cem'\] not in the test table"),
    ],
)
def test_bad_input_names_the_problem(table, options, message):
    with pytest.raises(EvaluationInputError, match=message):
        score_interpretability(table, **options)
