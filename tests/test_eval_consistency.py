"""Within-cluster consistency (semclust.validation.evaluate.consistency)."""

from __future__ import annotations

import pandas as pd
import pytest

from semclust.validation.evaluate import EvaluationInputError, within_cluster_consistency

#   cluster 0: fraud, fraud, fraud, blockade  -> top "fraud", 3 of 4 = 0.75
#   cluster 1: banner, march                  -> tie, first coded "banner", 1 of 2 = 0.5
#   cluster 2: march, (blank theme)           -> 1 of 1 coded = 1.0
#   outlier (-1): fraud                       -> not scored unless asked
CODED = pd.DataFrame(
    {
        "id": [f"p{i}" for i in range(9)],
        "cluster": [0, 0, 1, 0, 0, 1, 2, 2, -1],
        "theme": ["fraud", "fraud ", "banner", "blockade", "fraud", "march", "march", "", "fraud"],
    }
)


def test_hand_worked_consistency():
    result = within_cluster_consistency(CODED)
    table = result.per_cluster
    assert table["cluster"].tolist() == [0, 1, 2]
    assert table["n_coded"].tolist() == [4, 2, 1]
    assert table["top_theme"].tolist() == ["fraud", "banner", "march"]
    assert table["n_top"].tolist() == [3, 1, 1]
    assert table["consistency"].tolist() == [0.75, 0.5, 1.0]
    assert result.mean == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert result.to_dict()["per_cluster"][1]["top_theme"] == "banner"


def test_outliers_scored_only_when_asked():
    table = within_cluster_consistency(CODED, include_outliers=True).per_cluster
    assert table["cluster"].tolist() == [-1, 0, 1, 2]
    assert table["consistency"].iloc[0] == 1.0


def test_clusters_looked_up_in_the_assignments():
    assignments = pd.DataFrame({"id": CODED["id"][::-1], "cluster": CODED["cluster"][::-1]})
    looked_up = within_cluster_consistency(CODED.drop(columns="cluster"), assignments)
    direct = within_cluster_consistency(CODED)
    assert looked_up.per_cluster.equals(direct.per_cluster)
    assert looked_up.mean == direct.mean


@pytest.mark.parametrize(
    ("coded", "assignments", "message"),
    [
        (CODED.drop(columns="theme"), None, "lack the theme column 'theme'"),
        (CODED.drop(columns="cluster"), None, r"lacks the column\(s\) \['cluster'\]"),
        (CODED.assign(id=["p0"] * 9), None, "coded items row 1: id 'p0' appears more than once"),
        (CODED.assign(theme=""), None, "no clustered item has a 'theme'"),
        (CODED.iloc[:0], None, "has no rows"),
        (CODED, CODED[["id", "cluster"]], "own 'cluster' column"),
        (
            CODED.drop(columns="cluster"),
            CODED[["id", "cluster"]].iloc[:8],
            "coded items row 8: id 'p8' is not in the run's assignments",
        ),
        (
            CODED.drop(columns="cluster").assign(id=["p0"] * 9),
            CODED[["id", "cluster"]],
            "coded items row 1: id 'p0' is coded twice",
        ),
    ],
)
def test_bad_input_names_the_row(coded, assignments, message):
    with pytest.raises(EvaluationInputError, match=message):
        within_cluster_consistency(coded, assignments)


def test_only_outliers_coded():
    with pytest.raises(EvaluationInputError, match="no coded item lies in a cluster"):
        within_cluster_consistency(CODED.assign(cluster=-1))
