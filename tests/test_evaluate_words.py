"""evaluate's output in words: known measures explained, changed thresholds named, new ones kept."""

from __future__ import annotations

from semclust.validation.evaluate.words import as_text, in_words


def test_known_sections_in_words_with_changed_thresholds():
    evaluation = {
        "run": "r1",
        "quality": {
            "source": {"min_same": 10, "min_diff": 50},
            "scores": {
                "connotative": {"score": 1.2666, "n_same": 112, "n_diff": 888, "scorable": True},
                "denotative": {"score": None, "n_same": 3, "n_diff": 9, "scorable": False,
                               "reason": "fewer than 10 same-cluster pairs"},
            },
        },
        "pairs": {
            "source": {"folds": 5},
            "by_dimension": {
                "connotative": {
                    "threshold": 1,
                    "scores": {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "n_pairs": 400},
                    "cv": {"mean": {"f1": 0.3}, "std": {"f1": 0.05}},
                    "clustered_pairs": {
                        "scores": {"precision": 0.6, "recall": 0.3, "f1": 0.4, "n_pairs": 350},
                        "n_left_out": 50,
                    },
                }
            },
        },
        "novel_measure": {"widgets": 0.123456, "computed": "2026-01-01"},
    }  # fmt: skip
    lines = {line.measure: line for line in in_words(evaluation)}
    quality = lines["Cluster quality, connotative (Grimmer-King, same minus different, 0-2 scale)"]
    assert quality.value == "1.27 from 112 same / 888 different pairs"
    assert quality.note == "--min-same 10 instead of the paper's 50"
    denotative = lines["Cluster quality, denotative (Grimmer-King, same minus different, 0-2 scale)"]
    assert denotative.value.startswith("not scorable (fewer than 10")
    pairs = lines["Pair precision / recall / F1, connotative (all coded pairs; together = code >= 1)"]
    assert pairs.value == "0.50 / 0.25 / 0.33 on 400 pairs; 5-fold CV F1 0.30 ± 0.05"
    assert pairs.note == "--pair-threshold 1 instead of the paper's 2"
    clustered = lines["Pair precision / recall / F1, connotative (pairs of clustered images only)"]
    assert clustered.value.endswith("on 350 pairs (50 with an outlier left out)")
    assert lines["widgets"].value == "0.12"  # a section this version has no words for stays
    text = as_text(in_words(evaluation))
    assert "evaluation." not in text and "quality.connotative" not in text


def test_stability_and_compare_in_words():
    evaluation = {
        "stability": {
            "embedder": "st:all-MiniLM-L6-v2", "reducer": "umap:10:15", "clusterer": "hdbscan:50",
            "seeds": [0, 1, 2, 3, 4], "ami_form": "max", "ami_mean": 0.8312, "ami_min": 0.79,
            "ami_max": 0.8801, "n_clusters": {"0": 12, "1": 11}, "n_persistent": 9,
            "n_reference_clusters": 12, "jaccard_threshold": 0.5,
        },
        "compare": {"runs": {
            "r2": {"ami_form": "arithmetic", "ami_with_outliers": 0.61, "ami_without_outliers": 0.7,
                   "n_outlier_items": 40, "n_items": 500, "only_first": 3, "only_second": 0},
            "r3": {"ami_form": "max", "ami_with_outliers": 0.5, "ami_without_outliers": 0.5,
                   "n_outlier_items": 0, "n_items": 10, "only_first": 0, "only_second": 0},
        }},
    }  # fmt: skip
    lines = {line.measure: line for line in in_words(evaluation)}
    seeds = lines["Agreement between seeds (AMI, max-normalised, as Zhang & Leung A.1; outliers as one group)"]
    assert seeds.value == "mean 0.83, min 0.79, max 0.88 over every pair of 5 seeds"
    assert seeds.note == "seeds 0, 1, 2, 3, 4; reclustered with st:all-MiniLM-L6-v2, umap:10:15, hdbscan:50"
    assert lines["Clusters found by each seed (outliers not counted)"].value == "seed 0: 12, seed 1: 11"
    assert lines["Clusters of seed 0 found again by every other seed (best-match Jaccard >= 0.5)"].value == "9 of 12"
    r2 = lines["Agreement with run r2 (AMI, mean-normalised, scikit-learn's default)"]
    assert r2.value == (
        "0.61 with outliers as one more label; 0.70 without the 40 items that are an outlier in either run"
    )
    assert r2.note == "500 items in both, 3 only in this run, 0 only in r2"
    r3 = lines["Agreement with run r3 (AMI, max-normalised, as Zhang & Leung A.1)"]
    assert r3.value.endswith("; no item is an outlier in either run")
    assert "ami_mean" not in as_text(in_words(evaluation))
