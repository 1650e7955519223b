"""Every estimate of the findings package against an independent computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from findings_corpus import VIRAL, as_run, planted
from semclust.study.findings.differences import adjust, log_odds_z, weighted_log_odds
from semclust.study.findings.inputs import prepare
from semclust.study.findings.outcomes import effects_table
from semclust.study.findings.prevalence import bootstrap_counts, share_table


@pytest.fixture(scope="module")
def rows():
    return prepare(planted(n=1200, seed=3), {}, by="party", outcome="retweets", controls=("followers",)).rows


def test_shares_and_wilson_intervals_match_statsmodels(rows):
    table = share_table(rows, ["group"], {})
    for group in ("D", "R"):
        part = rows[rows["group"] == group]
        counts = part["cluster"].value_counts()
        mine = table[table["group"] == group].set_index("cluster")
        assert (mine["total"] == len(part)).all()
        for cluster, n in counts.items():
            low, high = proportion_confint(n, len(part), alpha=0.05, method="wilson")
            assert mine.loc[cluster, "n"] == n
            assert mine.loc[cluster, "share"] == pytest.approx(n / len(part))
            assert (mine.loc[cluster, "ci_low"], mine.loc[cluster, "ci_high"]) == pytest.approx((low, high))


def test_absent_cluster_is_a_zero_row_not_a_missing_one():
    rows = pd.DataFrame({"cluster": [0, 0, 1, 1, 1], "group": ["a", "a", "a", "b", "b"]})
    table = share_table(rows, ["group"], {}).set_index(["group", "cluster"])
    assert table.loc[("b", 0), "n"] == 0 and table.loc[("b", 0), "ci_low"] == 0
    assert table.loc[("b", 0), "ci_high"] == pytest.approx(proportion_confint(0, 2, method="wilson")[1])


def test_bootstrap_counts_keep_group_sizes_and_mean_shares():
    counts = np.array([[30, 70], [5, 15]])
    draws = bootstrap_counts(counts, 4000, np.random.default_rng(0))
    assert (draws.sum(axis=2) == counts.sum(axis=1)).all()
    assert draws[:, 0, 0].mean() / 100 == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("model", ["negbin", "poisson", "ols", "logit"])
def test_cluster_effects_match_a_direct_statsmodels_fit(rows, model):
    data = rows.copy()
    outcome = "retweets"
    if model == "logit":
        data["viral"] = (data["retweets"] > data["retweets"].median()).astype(float)
        outcome = "viral"
    mine, notes = effects_table(data, outcome, controls=("followers",), model=model, reference=0)
    assert notes == []
    formula = f"{outcome} ~ C(cluster, Treatment(0)) + followers"
    direct = {"negbin": smf.negativebinomial, "poisson": smf.poisson, "ols": smf.ols, "logit": smf.logit}[model]
    fit_args = {"cov_type": "HC1"} | ({} if model == "ols" else {"disp": 0, "maxiter": 200})
    fit_args |= {"method": "newton"} if model == "negbin" else {}
    ref = direct(formula, data).fit(**fit_args)
    for row in mine[mine["kind"] == "cluster"].itertuples():
        term = f"C(cluster, Treatment(0))[T.{row.cluster}]"
        assert row.coef == pytest.approx(ref.params[term], rel=1e-4, abs=1e-6)
        assert row.se == pytest.approx(ref.bse[term], rel=1e-3)
        assert row.p == pytest.approx(ref.pvalues[term], rel=1e-3, abs=1e-8)
    assert mine.set_index("term").loc["followers", "coef"] == pytest.approx(ref.params["followers"], rel=1e-4)


def test_the_planted_outcome_effect_is_the_one_found(rows):
    effects, _ = effects_table(rows, "retweets", controls=("followers",), model="negbin", reference=0)
    clusters = effects[effects["kind"] == "cluster"].set_index("cluster")
    assert clusters.loc[VIRAL, "p"] < 1e-6
    assert clusters.loc[VIRAL, "exp_ci_low"] < 3 < clusters.loc[VIRAL, "exp_ci_high"]


def test_benjamini_hochberg_matches_multipletests():
    p = np.random.default_rng(1).uniform(0, 0.2, size=40)
    assert adjust(p) == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert adjust(p, "holm") == pytest.approx(multipletests(p, method="holm")[1])


def test_log_odds_match_a_hand_worked_example():
    """y_i = (2, 0), y_j = (1, 3), alpha = (1, 1): delta_0 = log 6, var_0 = 1/3 + 1/2; delta_1 = -log 6."""
    delta, z = log_odds_z(np.array([2.0, 0.0]), np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    assert delta == pytest.approx([np.log(6), -np.log(6)])
    assert z == pytest.approx([np.log(6) / np.sqrt(1 / 3 + 1 / 2), -np.log(6) / np.sqrt(1 + 1 / 4)])


def test_weighted_log_odds_puts_each_group_s_own_words_first():
    texts = pd.Series(["red protest", "red crowd", "red dog", "blue dog", "blue park", "blue dog"] * 5)
    groups = pd.Series(["D", "D", "D", "R", "R", "R"] * 5)
    table = weighted_log_odds(texts, groups, top=3)
    assert table[table["group"] == "D"]["word"].iloc[0] == "red"
    assert table[table["group"] == "R"]["word"].iloc[0] == "blue"
    assert (table.groupby("group")["z"].apply(lambda z: z.is_monotonic_decreasing)).all()


def test_same_seed_same_numbers(tmp_path):
    run = as_run(planted(n=400, seed=5), tmp_path)
    a = run.analyze(by="party", bootstrap=200, seed=7)
    b = run.analyze(by="party", bootstrap=200, seed=7)
    pd.testing.assert_frame_equal(a.differences, b.differences)
    pd.testing.assert_frame_equal(a.uncertainty, b.uncertainty)
