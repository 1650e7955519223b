"""A simulated study with planted effects: the analysis finds them, and nothing where none was planted."""

from __future__ import annotations

import numpy as np

from findings_corpus import VIRAL, as_run, planted, shares
from semclust.study.findings.differences import share_differences

N_CLUSTERS = 8


def test_finds_the_planted_group_difference_and_outcome_effect(tmp_path):
    run = as_run(planted(n=3000, n_clusters=N_CLUSTERS, seed=11), tmp_path)
    res = run.analyze(by="party", time="created_at", outcome="retweets", controls=["followers"],
                      bootstrap=300, reference_cluster=N_CLUSTERS - 1)
    diffs = res.differences.set_index("cluster")  # R vs D
    assert diffs.loc[0, "p_adjusted"] < 0.001 and diffs.loc[0, "ratio_high"] < 1  # A: D posts it 2x
    assert 0.3 < diffs.loc[0, "ratio"] < 0.75 and diffs.loc[0, "ratio_low"] < 0.5 < diffs.loc[0, "ratio_high"]
    assert diffs.loc[1, "p_adjusted"] < 0.001 and diffs.loc[1, "ratio_low"] > 1
    effects = res.effects[res.effects["kind"] == "cluster"].set_index("cluster")
    assert effects.loc[VIRAL, "p"] < 1e-6 and effects.loc[VIRAL, "exp_ci_low"] > 2
    others = effects.drop(index=VIRAL)
    assert (others["exp_ci_low"] < 1).sum() >= len(others) - 1


def test_null_clusters_stay_below_the_threshold_in_at_least_95_percent():
    """Clusters 2.. have the same true share in both parties: adjusted p > 0.05 for >= 95 % of them."""
    rng = np.random.default_rng(0)
    clusters, groups = list(range(N_CLUSTERS)), ["D", "R"]
    null_p = []
    for _ in range(40):
        counts = np.stack([rng.multinomial(800, shares(g, N_CLUSTERS)) for g in groups])
        table = share_differences(counts, groups, clusters, {}, reference="D", n_boot=100, rng=rng)
        null_p += list(table[table["cluster"] >= 2]["p_adjusted"])
    assert np.mean(np.array(null_p) > 0.05) >= 0.95
