"""The model audit: weighted log-odds against a hand-worked example, and compare-describers end to end."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score
from typer.testing import CliRunner

from fake_llm_server import FakeLLMServer, Reply, openai_body, write_images
from semclust.core.errors import SemclustError
from semclust.study.config import DescribeOptions
from semclust.validation.evaluate.describer_audit import AuditOptions, audit_describers, write_audit
from semclust.validation.evaluate.log_odds import distinctive_words, weighted_log_odds, word_counts


def test_weighted_log_odds_by_hand():
    # A says red 3x, blue 1x; B says red 1x, blue 3x. Prior = combined counts: a_red = a_blue = 4, a_0 = 8.
    # delta_red = log((3+4)/(4+8-3-4)) - log((1+4)/(4+8-1-4)) = log(7/5) - log(5/7) = 2 log 1.4 = 0.672944
    # var = 1/(3+4) + 1/(1+4) = 0.342857; z = 0.672944 / sqrt(0.342857) = 1.149271
    table = weighted_log_odds(pd.Series({"red": 3, "blue": 1}), pd.Series({"red": 1, "blue": 3}))
    red = table.set_index("word").loc["red"]
    assert red["delta"] == pytest.approx(2 * math.log(1.4))
    assert red["variance"] == pytest.approx(1 / 7 + 1 / 5)
    assert red["z"] == pytest.approx(1.149271, abs=1e-6)
    assert table.set_index("word").loc["blue", "z"] == pytest.approx(-1.149271, abs=1e-6)
    assert list(table["word"]) == ["red", "blue"]


def test_log_odds_with_an_explicit_prior_by_hand():
    # prior shares red:blue = 1:3, a_0 = 4 -> a_red = 1, a_blue = 3; A: red 2, blue 0; B: red 0, blue 2
    # delta_red = log((2+1)/(2+4-2-1)) - log((0+1)/(2+4-0-1)) = log(3/3) - log(1/5) = log 5
    # var_red = 1/3 + 1/1; z_red = log 5 / sqrt(4/3) = 1.393814
    table = weighted_log_odds(pd.Series({"red": 2}), pd.Series({"blue": 2}),
                              prior=pd.Series({"red": 1, "blue": 3}), prior_size=4)
    red = table.set_index("word").loc["red"]
    assert red["delta"] == pytest.approx(math.log(5)) and red["z"] == pytest.approx(1.393814, abs=1e-6)


def test_rare_words_are_shrunk_and_empty_input_is_an_error():
    a = pd.Series({"flag": 40, "rare": 2, "common": 100})
    b = pd.Series({"flag": 5, "common": 100})
    table = weighted_log_odds(a, b).set_index("word")
    assert table.loc["flag", "z"] > table.loc["rare", "z"] > 0  # a word seen twice is no strong signal
    assert distinctive_words(weighted_log_odds(a, b), top=5)[0] == ["flag"]
    with pytest.raises(SemclustError):
        weighted_log_odds(pd.Series(dtype=int), b)


def test_word_counts_lowercase_and_drop_stop_words():
    counts = word_counts(["The Flag, the flag!", "a red FLAG", None], stop_words={"the", "a"})
    assert counts.to_dict() == {"flag": 3, "red": 1}


@pytest.fixture
def two_describer_study(tmp_study, tmp_path):
    rows = []
    for i, (_, path) in enumerate(write_images(tmp_path / "img", 12, size=(64, 48))):
        theme = ["protest crowd banner street", "forest river tree green", "flood storm climate water"][i % 3]
        other = ["police march city", "wildlife nature park", "rain damage sea level"][i // 4]
        rows.append({"image": path, "a_text": f"{theme} protest flag",
                     "b_text": f"{other} colourful artistic", "same": f"{theme} protest flag"})
    pd.DataFrame(rows).to_csv(tmp_path / "posts.csv", index=False)
    tmp_study.ingest(tmp_path / "posts.csv", progress=False)
    return tmp_study


def test_audit_of_two_describers(two_describer_study, tmp_path):
    options = AuditOptions(embedder="tfidf:20", clusterer="kmeans:3", reducer="none")
    result = audit_describers(two_describer_study, ["column:a_text", "column:b_text"], options, progress=False)
    assert result.n_common == 12
    a, b = result.labels["column:a_text"], result.labels["column:b_text"]
    row = result.agreement.iloc[0]
    assert row["ami"] == pytest.approx(adjusted_mutual_info_score(a, b, average_method="max"))
    words = result.words[("column:a_text", "column:b_text")]
    more_a, more_b = distinctive_words(words, top=3)
    assert "protest" in more_a and "flag" in more_a
    assert "colourful" in more_b or "artistic" in more_b
    assert result.heatmaps[("column:a_text", "column:b_text")].to_numpy().sum() == pytest.approx(1.0)
    page = write_audit(result, tmp_path / "audit")
    text = page.read_text()
    assert "column:a_text vs column:b_text" in text and "protest" in text
    assert {p.name for p in (tmp_path / "audit").iterdir()} >= {
        "models.csv", "agreement.csv", "report.html", "settings.json",
        "words_column_a_text__vs__column_b_text.csv", "heatmap_column_a_text__vs__column_b_text.png"}


def test_identical_describers_agree_perfectly(two_describer_study):
    options = AuditOptions(embedder="tfidf:20", clusterer="kmeans:3", reducer="none")
    result = audit_describers(two_describer_study, ["column:a_text", "column:same"], options, progress=False)
    assert result.agreement.iloc[0]["ami"] == pytest.approx(1.0)
    assert (result.words[("column:a_text", "column:same")]["z"].abs() < 1e-9).all()


def test_refusal_and_truncation_rates_of_an_llm_and_the_source_left_alone(two_describer_study, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    study = two_describer_study
    study.describe("column:a_text")
    with FakeLLMServer() as server:
        server.queue(Reply(body=openai_body("I'm sorry, but I can't help with that.")),
                     Reply(body=openai_body("A <b>cut</b> answer that", finish_reason="length")))
        options = AuditOptions(embedder="tfidf:20", clusterer="kmeans:2", reducer="none",
                               describe=DescribeOptions(base_url=server.openai_base_url, concurrency=1))
        result = audit_describers(study, ["openai:m", "column:b_text"], options, progress=False)
    model = result.models.set_index("describer").loc["openai:m"]
    assert model["images"] == 12 and model["described"] == 11
    assert model["refusal_rate"] == pytest.approx(1 / 12)
    assert model["truncation_rate"] == pytest.approx(1 / 11)
    assert result.n_common == 11
    assert study.description_source().describer == "column:a_text"  # the audit changed nothing


def test_cli_compare_describers_writes_the_report_and_escapes_text(two_describer_study, tmp_path):
    from semclust.cli import app

    folder = str(two_describer_study.folder)
    two_describer_study.close()
    result = CliRunner().invoke(app, ["compare-describers", "--study", folder, "--describers",
                                      "column:a_text,column:b_text", "--embedder", "tfidf:20",
                                      "--reducer", "none", "--clusterer", "kmeans:3", "-q"])
    assert result.exit_code == 0, result.output
    assert "AMI column:a_text vs column:b_text" in result.output
    report = tmp_path / "study" / "audits" / "column_a_text__vs__column_b_text" / "report.html"
    assert report.exists() and "<script" not in report.read_text()


def test_one_describer_is_not_an_audit(two_describer_study):
    with pytest.raises(SemclustError, match="at least two"):
        audit_describers(two_describer_study, ["column:a_text", "column:a_text"])
