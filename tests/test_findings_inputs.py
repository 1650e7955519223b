"""Bad input to ``analyze``: one clear error line each, or a note where the analysis can go on."""

from __future__ import annotations

import pandas as pd
import pytest

from findings_corpus import as_run, planted
from semclust.core.errors import SemclustError


@pytest.fixture
def table():
    return planted(n=300, seed=2)


def analyze(table, tmp_path, **options):
    return as_run(table, tmp_path).analyze(bootstrap=100, **options)


def test_group_column_with_one_value(table, tmp_path):
    with pytest.raises(SemclustError, match=r"by='party' has one value \('D'\)"):
        analyze(table.assign(party="D"), tmp_path, by="party")


def test_unknown_column_lists_the_columns(table, tmp_path):
    with pytest.raises(SemclustError, match="no such column.*party"):
        analyze(table, tmp_path, by="partei")


def test_date_column_that_does_not_parse_names_the_rows(table, tmp_path):
    table.loc[[4, 9], "created_at"] = ["yesterday", "31/31/2024"]
    with pytest.raises(SemclustError, match=r"2 values are not dates, e.g. items p4 \('yesterday'\), p9"):
        analyze(table, tmp_path, by="party", time="created_at")


def test_small_group_is_warned_and_shown_not_dropped(table, tmp_path):
    table.loc[:4, "party"] = "I"
    res = analyze(table, tmp_path, by="party")
    assert "I" in set(res.prevalence["group"]) and "I" in set(res.differences["group"])
    assert res.prevalence[res.prevalence["group"] == "I"]["small_group"].all()
    assert any("group 'I' has only 5 items" in n for n in res.notes)


def test_missing_values_are_counted_and_reported(table, tmp_path):
    table.loc[:6, "party"] = ""
    table.loc[10:12, "cluster"] = pd.NA
    table.loc[20:21, "retweets"] = ""
    res = analyze(table, tmp_path, by="party", outcome="retweets", model="ols")
    assert any(n.startswith("7 items have no value in 'party'") for n in res.notes)
    assert any(n.startswith("3 items were not clustered") for n in res.notes)
    assert any(n.startswith("2 items have no value in 'retweets'") for n in res.notes)
    assert res.settings["n_items"] == 300 - 7 - 3
    assert res.effects.attrs["n"] == 300 - 7 - 3 - 2


def test_non_numeric_outcome(table, tmp_path):
    table.loc[3, "retweets"] = "many"
    with pytest.raises(SemclustError, match=r"'retweets' must be numeric: 1 values .* p3 \('many'\)"):
        analyze(table, tmp_path, outcome="retweets")


def test_constant_control(table, tmp_path):
    with pytest.raises(SemclustError, match="control 'followers' is constant"):
        analyze(table.assign(followers="7"), tmp_path, outcome="retweets", controls=["followers"])


def test_count_model_refuses_negative_outcome_and_logit_a_non_binary_one(table, tmp_path):
    with pytest.raises(SemclustError, match="needs counts"):
        analyze(table.assign(retweets="-1.5"), tmp_path, outcome="retweets", model="poisson")
    with pytest.raises(SemclustError, match="needs a 0/1 outcome"):
        analyze(table, tmp_path, outcome="retweets", model="logit")


def test_too_small_cluster_is_left_out_with_a_note(table, tmp_path):
    table.loc[:2, "cluster"] = 9
    res = analyze(table, tmp_path, outcome="retweets")
    assert 9 not in set(res.effects["cluster"].dropna())
    assert any(n.startswith("cluster 9 (3 items) is too small") for n in res.notes)
    assert 9 in set(res.prevalence["cluster"])  # still shown among the shares


def test_outliers_excluded_or_counted_as_a_cluster(table, tmp_path):
    table.loc[:19, "cluster"] = -1
    excluded = analyze(table, tmp_path)
    as_cluster = analyze(table, tmp_path, outliers="cluster")
    assert -1 not in set(excluded.prevalence["cluster"]) and excluded.prevalence["total"].iloc[0] == 280
    row = as_cluster.prevalence.set_index("cluster").loc[-1]
    assert (row["n"], row["total"], row["name"]) == (20, 300, "outliers")


@pytest.mark.parametrize("options, message", [({"freq": "hour", "time": "created_at"}, "freq='hour'"),
                                              ({"model": "probit", "outcome": "retweets"}, "model='probit'"),
                                              ({"outliers": "drop"}, "outliers='drop'")])
def test_bad_option_values(table, tmp_path, options, message):
    with pytest.raises(SemclustError, match=message):
        analyze(table, tmp_path, **options)
