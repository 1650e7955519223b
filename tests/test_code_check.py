"""The LLM's zero-shot check of a seeded run against the local fake OpenAI-compatible server:
asked once per item (cached, so a second run sends nothing), dry run, budget."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from codebook_corpus import make_set
from fake_llm_server import FakeLLMServer, Reply, openai_body
from semclust.exploration.code_check import CheckOptions, check_codes, parse_check
from semclust.study.config import RunConfig
from semclust.study.seeded import seeded_execute_run
from semclust.study.workspace import Study

MODEL = "openai:gpt-4o-mini"  # priced in prices.toml


@pytest.fixture
def seeded(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    table, codes = make_set({"protest": 5, "food": 5}, {}, seed=8)
    folder = tmp_path / "s"
    with Study(folder) as study:
        study.add(table, id="id", text="text", progress=False)
        run = seeded_execute_run(study, RunConfig(map="none"), codes, 0.1, progress=False)
    return folder, run


def test_each_coded_item_is_asked_once_and_the_answers_are_kept(seeded):
    folder, run = seeded
    n = int((run.assignments["code"] != "").sum())
    with FakeLLMServer() as server, Study(folder) as study:
        server.queue(Reply(status=429, body={"error": "slow"}, headers={"Retry-After": "0"}),
                     *[Reply(body=openai_body(json.dumps({"fits": i % 3 != 0, "reason": "because"})))
                       for i in range(n)])
        options = CheckOptions(base_url=server.openai_base_url, base_delay=0.001)
        plan, table = check_codes(study.store, run, MODEL, options)
        assert len(server.requests) == n + 1 and plan.n_cached == 0
        prompt = server.requests[-1].json["messages"][0]["content"][0]["text"]
        assert "Definition:" in prompt and "Description of the image:" in prompt
        assert int(table["fits"].sum()) == sum(i % 3 != 0 for i in range(n))
        again, _ = check_codes(study.store, run, MODEL, options)
        assert len(server.requests) == n + 1 and again.n_cached == n  # all from the cache
    saved = pd.read_csv(run.folder / "code_check.csv")
    assert list(saved.columns) == ["id", "code", "code_similarity", "fits", "reason"] and len(saved) == n


def test_dry_run_sends_nothing_and_prices_the_prompts(seeded):
    folder, run = seeded
    with FakeLLMServer() as server, Study(folder) as study:
        plan, table = check_codes(study.store, run, MODEL, CheckOptions(base_url=server.openai_base_url,
                                                                        dry_run=True))
        assert server.requests == [] and table is None
    n = int((run.assignments["code"] != "").sum())
    assert plan.n_items == n and plan.completion_tokens == 40 * n
    expected = (plan.prompt_tokens * 0.15 + plan.completion_tokens * 0.60) / 1e6  # prices.toml's gpt-4o-mini
    assert plan.cost == pytest.approx(expected) and "to ask" in plan.in_words()


def test_a_budget_stops_sending_and_a_rerun_resumes(seeded):
    folder, run = seeded
    with FakeLLMServer() as server, Study(folder) as study:
        dry, _ = check_codes(study.store, run, MODEL, CheckOptions(dry_run=True))
        per_item = dry.cost / dry.n_items
        server.queue(*[Reply(body=openai_body('{"fits": true, "reason": "ok"}')) for _ in range(dry.n_items)])
        options = CheckOptions(base_url=server.openai_base_url, budget=per_item * 3.5)
        _, table = check_codes(study.store, run, MODEL, options)
        assert len(server.requests) == 3 and int(table["fits"].notna().sum()) == 3
        _, rest = check_codes(study.store, run, MODEL, CheckOptions(base_url=server.openai_base_url))
        assert len(server.requests) == dry.n_items  # only the items not asked before
        assert rest["fits"].notna().all()


def test_cli_check_codes_dry_run(seeded):
    from semclust.cli.main import app

    folder, _ = seeded
    result = CliRunner().invoke(app, ["check-codes", "--study", str(folder), "--checker", MODEL, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "coded items" in result.output and "cost about $" in result.output


@pytest.mark.parametrize("text, fits", [('{"fits": true, "reason": "a march"}', True),
                                        ('Sure: {"fits": false, "reason": "a meal"}', False),
                                        ("No, it shows food.", False), ("maybe", None)])
def test_parse_check(text, fits):
    assert parse_check(text)[0] is fits
