"""Analysis of a rating study: a hand-worked example and a simulated study with a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from semclust.validation.evaluate.answer_files import SamplingError
from semclust.validation.evaluate.ratings import (
    RatingsOptions,
    ScaleInfo,
    by_cluster,
    group_means,
    reliability,
    share_marks,
)
from semclust.validation.sampling_ratings import parse_groups, rating_slots

SCALES = [ScaleInfo("s1", "X", 1, 10), ScaleInfo("s2", "X", 1, 10)]


def _hand_example() -> tuple[pd.DataFrame, pd.Series]:
    """Three clusters (sizes 6, 3, 1), one image each, rated by one coder of groups A and B."""
    rows = [
        ("a", 0, "ca", "A", 2, 4),
        ("a", 0, "cb", "B", 4, 6),
        ("b", 1, "ca", "A", 6, 8),
        ("b", 1, "cb", "B", 8, 8),
        ("c", 2, "ca", "A", 1, 1),
        ("c", 2, "cb", "B", 3, 5),
    ]
    table = pd.DataFrame(rows, columns=["id", "cluster", "coder", "party", "s1", "s2"])
    return table, pd.Series({0: 6, 1: 3, 2: 1})


def _value(means, measure, group, weighting="equal", column="mean"):
    row = means[(means["measure"] == measure) & (means["group"] == group)]
    return row[row["weighting"] == weighting][column].item()


def test_group_means_by_hand():
    table, sizes = _hand_example()
    options = RatingsOptions(n_boot=200, weightings=("equal", "size"))
    means = group_means(table, SCALES, "party", sizes, options)
    # A's cluster means of s1 are 2, 6, 1: equal weight 9/3; by size (12 + 18 + 1) / 10
    assert _value(means, "s1", "A") == pytest.approx(3.0)
    assert _value(means, "s1", "A", "size") == pytest.approx(3.1)
    assert _value(means, "s1", "B") == pytest.approx(5.0)
    assert _value(means, "s1", "B", "size") == pytest.approx(5.1)
    assert _value(means, "s1", "B - A") == pytest.approx(2.0)
    # dimension X: per cluster the mean of s1 and s2 -> A: 3, 7, 1; B: 5, 8, 4
    assert _value(means, "X", "A") == pytest.approx(11 / 3)
    assert _value(means, "X", "B") == pytest.approx(17 / 3)
    assert _value(means, "X", "B - A", "size") == pytest.approx((2 * 6 + 1 * 3 + 3 * 1) / 10)
    # every cluster's s1 difference is exactly 2, so every bootstrap replicate gives 2
    assert _value(means, "s1", "B - A", column="ci_low") == pytest.approx(2.0)
    assert _value(means, "s1", "B - A", column="ci_high") == pytest.approx(2.0)
    low, high = (
        _value(means, "s2", "A", column="ci_low"),
        _value(means, "s2", "A", column="ci_high"),
    )
    assert 1 <= low <= 13 / 3 <= high <= 8  # within the cluster means' range


def test_heatmap_columns_and_share_marks_by_hand():
    table, sizes = _hand_example()
    heat = by_cluster(table, SCALES, pd.Series({2: 1, 0: 6, 1: 3}))
    assert list(heat.columns) == [0, 1, 2]  # largest cluster first
    assert heat.loc["s1"].tolist() == [3.0, 7.0, 2.0]
    assert heat.loc["s2"].tolist() == [5.0, 8.0, 3.0]
    # cumulative shares 0.6, 0.9, 1.0: 50 % is reached by one cluster, 75 % and 90 % by two
    assert share_marks(sizes, heat.columns) == {0.5: 1, 0.75: 2, 0.9: 2}


def test_interval_alpha_by_hand():
    # two coders, three images: (1, 1), (2, 2), (3, 4). D_o = 2/6; D_e = 82/30
    table = pd.DataFrame(
        {"id": list("abcabc"), "coder": ["x"] * 3 + ["y"] * 3, "s1": [1, 2, 3, 1, 2, 4]}
    )
    result = reliability(table, [SCALES[0]])
    assert result["alpha_interval"].item() == pytest.approx(1 - (2 / 6) / (82 / 30))
    assert result["images_rated_twice"].item() == 3
    lonely = reliability(table[table["coder"] == "x"], [SCALES[0]])
    assert lonely["alpha_interval"].isna().item() and "two coders" in lonely["reason"].item()


def test_slots_never_repeat_a_cluster_and_are_balanced():
    rng = np.random.default_rng(3)
    sample = pd.DataFrame({"id": [f"i{i}" for i in range(83)], "cluster": rng.integers(0, 30, 83)})
    sample = sample.groupby("cluster").head(5).reset_index(drop=True)
    slots = rating_slots(sample, 8, random_state=1)
    assert slots.nunique() == int(np.ceil(len(sample) / 8))
    counts = slots.value_counts()
    assert counts.max() - counts.min() <= 1
    assert not sample.assign(slot=slots).duplicated(["slot", "cluster"]).any()
    crowded = pd.DataFrame({"id": list("abcde"), "cluster": [1, 1, 1, 2, 2]})
    with pytest.raises(SamplingError, match="two images of one cluster"):
        rating_slots(crowded, 3)  # 2 slots, but cluster 1 has 3 images
    assert parse_groups("party=Democrat,Republican") == {
        "attribute": "party",
        "values": ["Democrat", "Republican"],
    }
    with pytest.raises(SamplingError, match="ATTRIBUTE=VALUE"):
        parse_groups("Democrat,Republican")


def simulated_study(effect: float = 2.0, n_clusters: int = 40, seed: int = 0) -> pd.DataFrame:
    """Ratings in which group R rates every anxiety scale ``effect`` points above group D."""
    rng = np.random.default_rng(seed)
    scales = {
        "hopeful": "enthusiasm",
        "proud": "enthusiasm",
        "worried": "anxiety",
        "afraid": "anxiety",
    }
    sizes = rng.integers(5, 60, n_clusters)
    items = [(f"c{c}-{k}", c) for c in range(n_clusters) for k in range(min(4, sizes[c]))]
    sample = pd.DataFrame(items, columns=["id", "cluster"])
    sample["slot"] = rating_slots(sample, 8, random_state=seed)
    level = {(c, s): rng.uniform(2, 7) for c in range(n_clusters) for s in scales}
    rows = []
    for group in ("D", "R"):
        for slot, images in sample.groupby("slot"):
            coder = f"{group}{slot}"
            bias = rng.normal(0, 0.3)
            for item, cluster in zip(images["id"], images["cluster"], strict=True):
                row = {"id": item, "cluster": cluster, "coder": coder, "party": group}
                for scale, dimension in scales.items():
                    shift = effect if group == "R" and dimension == "anxiety" else 0.0
                    value = level[(cluster, scale)] + shift + bias + rng.normal(0, 1)
                    row[scale] = float(np.clip(np.rint(value), 1, 10))
                rows.append(row)
    infos = [ScaleInfo(s, d, 1, 10) for s, d in scales.items()]
    return pd.DataFrame(rows), infos, pd.Series(sizes, index=range(n_clusters))


def test_simulated_group_effect_is_recovered_within_its_interval():
    table, infos, sizes = simulated_study()
    means = group_means(table, infos, "party", sizes, RatingsOptions(n_boot=1000))
    anxiety = means[(means["measure"] == "anxiety") & (means["group"] == "R - D")].iloc[0]
    assert anxiety["ci_low"] <= 2.0 <= anxiety["ci_high"]
    assert anxiety["ci_low"] > 1.0  # clearly away from no effect
    enthusiasm = means[(means["measure"] == "enthusiasm") & (means["group"] == "R - D")].iloc[0]
    assert enthusiasm["ci_low"] <= 0.0 <= enthusiasm["ci_high"]
    assert abs(enthusiasm["mean"]) < 0.5


def test_ratings_file_errors_name_the_line_and_the_fix(tmp_path):
    import json

    from semclust.validation.evaluate.rating_study import read_ratings

    path = tmp_path / "ratings.csv"
    pd.DataFrame(
        {"id": ["a", "b"], "coder": ["x", "y"], "party": ["D", "R"], "hopeful": ["3", "11"]}
    ).to_csv(path, index=False)
    with pytest.raises(SamplingError, match="no scales: keep the .json"):
        read_ratings(path)
    scales = [{"name": "hopeful", "dimension": "enthusiasm", "low": 1, "high": 10}]
    path.with_suffix(".json").write_text(json.dumps({"scales": scales, "group": "party"}))
    with pytest.raises(SamplingError, match="line 3 of ratings.csv: hopeful '11' is not a number"):
        read_ratings(path)
    path.write_text("id,coder,hopeful\na,x,3\n")
    with pytest.raises(SamplingError, match=r"lacks the column\(s\) \['party'\]"):
        read_ratings(path)
