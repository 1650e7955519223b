"""Cluster keywords against a TF-IDF example worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from semclust.core.errors import SemclustError
from semclust.stages.label import ClusterKeywords, class_tfidf, plain_text


def test_tfidf_keywords_match_hand_worked_example():
    # cluster 0 joins "solar energy" + "solar panels"; cluster 1 is "energy protest".
    # smoothed idf = ln((1 + n_docs) / (1 + df)) + 1 with n_docs = 2 cluster documents:
    idf_once = math.log(3 / 2) + 1  # solar, panels, protest appear in one cluster document
    idf_both = math.log(3 / 3) + 1  # energy appears in both
    raw0 = {"solar": 2 * idf_once, "energy": 1 * idf_both, "panels": 1 * idf_once}
    norm0 = math.sqrt(sum(v * v for v in raw0.values()))
    raw1 = {"energy": idf_both, "protest": idf_once}
    norm1 = math.sqrt(sum(v * v for v in raw1.values()))

    model = ClusterKeywords(top_k=3).fit(
        ["solar energy", "solar panels", "energy protest"], [0, 0, 1]
    )

    got0 = model.keywords_for(0)
    assert [t for t, _ in got0] == ["solar", "panels", "energy"]
    for term, score in got0:
        assert score == pytest.approx(raw0[term] / norm0)
    got1 = model.keywords_for(1)
    assert [t for t, _ in got1] == ["protest", "energy"]
    for term, score in got1:
        assert score == pytest.approx(raw1[term] / norm1)


def test_description_boilerplate_and_user_words_are_removed():
    texts = [
        "The image conveys hope and suggests solar power",
        "The image depicts a flood and conveys fear",
    ]
    model = ClusterKeywords(top_k=10, extra_stop_words=["hope"]).fit(texts, [0, 1])
    terms = {t for kw in model.keywords_.values() for t, _ in kw}
    assert {"solar", "power", "flood", "fear"} <= terms
    assert not terms & {"image", "conveys", "suggests", "depicts", "the", "hope"}


def test_top_k_limits_and_outliers_get_keywords_too():
    texts = ["alpha beta gamma delta", "alpha beta", "noise words here"]
    model = ClusterKeywords(top_k=2).fit(texts, [0, 0, -1])
    assert len(model.keywords_for(0)) == 2
    assert model.keywords_for(0)[0][0] in {"alpha", "beta"}
    assert {t for t, _ in model.keywords_for(-1)} <= {"noise", "words"}


def test_class_tfidf_matches_bertopic_formula():
    counts = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]])
    mean_words = counts.sum() / 2  # A = 3.5
    expected = np.array(
        [
            [2 / 3 * math.log(1 + mean_words / 2), 1 / 3 * math.log(1 + mean_words / 2), 0.0],
            [0.0, 1 / 4 * math.log(1 + mean_words / 2), 3 / 4 * math.log(1 + mean_words / 3)],
        ]
    )
    np.testing.assert_allclose(class_tfidf(counts), expected)


def test_ctfidf_method_ranks_frequent_class_terms_first():
    texts = ["flood water flood", "flood rescue", "solar panel", "solar wind"]
    model = ClusterKeywords(top_k=1, method="ctfidf").fit(texts, [0, 0, 1, 1])
    assert model.keywords_for(0)[0][0] == "flood"
    assert model.keywords_for(1)[0][0] == "solar"


@pytest.mark.parametrize("kwargs", [{"method": "lda"}, {"top_k": 0}])
def test_bad_parameters_are_clear_errors(kwargs):
    with pytest.raises(SemclustError):
        ClusterKeywords(**kwargs).fit(["a b"], [0])


def test_length_mismatch_is_an_error():
    with pytest.raises(SemclustError, match="2 texts but 1 labels"):
        ClusterKeywords().fit(["a", "b"], [0])


def test_outliers_do_not_change_any_clusters_keywords():
    texts = ["solar energy panels", "solar roof energy", "flood water rescue", "flood boats"]
    labels = [0, 0, 1, 1]
    alone = ClusterKeywords(top_k=5).fit(texts, labels)
    # outliers that repeat cluster 0's words would lower those words' IDF if they counted
    noisy = ClusterKeywords(top_k=5).fit(
        texts + ["solar energy sunshine", "energy solar"], labels + [-1, -1]
    )
    for cluster in (0, 1):
        assert noisy.keywords_for(cluster) == alone.keywords_for(cluster)
    assert {t for t, _ in noisy.keywords_for(-1)} >= {"solar", "energy", "sunshine"}
    ctfidf = ClusterKeywords(top_k=5, method="ctfidf")
    assert ctfidf.fit(texts + ["solar energy"], labels + [-1]).keywords_for(0) == (
        ClusterKeywords(top_k=5, method="ctfidf").fit(texts, labels).keywords_for(0)
    )


def test_words_the_papers_table_keeps_are_not_stop_words():
    texts = ["overall the scene is likely a protest, possibly at night; a crowd in the background"]
    terms = {t for t, _ in ClusterKeywords(top_k=20).fit(texts, [0]).keywords_for(0)}
    assert {"scene", "overall", "possibly", "likely", "background", "protest"} <= terms
    boilerplate = "the image depicts and conveys and suggests a picture showing a march"
    terms = {t for t, _ in ClusterKeywords(top_k=20).fit([boilerplate], [0]).keywords_for(0)}
    assert terms == {"march"}


def test_markup_in_post_text_does_not_become_keywords():
    texts = [
        '<p>Climate <b>strike</b>&nbsp;today <a href="https://t.co/xyz">link</a></p><br/>',
        "Climate strike &amp; march https://example.org/path?x=1 <script>var span=1</script>",
    ]
    terms = {t for t, _ in ClusterKeywords(top_k=20).fit(texts, [0, 0]).keywords_for(0)}
    assert {"climate", "strike", "march", "today", "link"} <= terms
    assert not terms & {"href", "https", "nbsp", "amp", "br", "co", "xyz", "span", "var", "org"}
    assert plain_text("a < b and c > d") == "a < b and c > d"  # not markup: left alone
