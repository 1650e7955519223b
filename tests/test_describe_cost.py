"""Cost of describing: OpenAI's image-token rule, the price table, estimates, --dry-run and --budget."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fake_llm_server import FakeLLMServer, MemoryCache, write_images
from semclust.core.store.records import DescriptionKey, DescriptionRecord
from semclust.stages.describe import (
    PRESETS,
    DescriberConfigError,
    create_describer,
    describe_images,
)
from semclust.stages.describe.cost import (
    DEFAULT_COMPLETION_TOKENS,
    FREE,
    Budget,
    Price,
    estimate,
    load_prices,
    price_for,
)
from semclust.study.config import DescribeOptions

GPT4O = Price(input=2.5, output=10.0, batch=0.5, image_base=85, image_tile=170)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.mark.parametrize(
    ("size", "detail", "tokens"),
    [
        ((1024, 1024), "high", 765),  # OpenAI's worked example: 768x768, 4 tiles
        ((2048, 4096), "high", 1105),  # 1024x2048 -> 768x1536, 6 tiles
        ((4096, 8192), "low", 85),
        ((512, 384), None, 85 + 170),  # already small: one tile
        ((640, 480), "auto", 85 + 170 * 2),  # 640x480: 2 x 1 tiles
    ],
)
def test_image_tokens_follow_openais_tiling_rule(size, detail, tokens):
    assert GPT4O.image_tokens(*size, detail) == tokens


def test_cost_in_usd_per_million_tokens_with_batch_discount():
    assert GPT4O.cost(1_000_000, 0) == pytest.approx(2.5)
    assert GPT4O.cost(200, 100) == pytest.approx((200 * 2.5 + 100 * 10) / 1e6)
    assert GPT4O.cost(200, 100, batch=True) == pytest.approx((200 * 2.5 + 100 * 10) / 1e6 / 2)


def test_shipped_table_user_overrides_and_lookup(tmp_path):
    prices = load_prices()
    assert prices[("openai", "gpt-4o-mini")].input == pytest.approx(0.15)
    extra = tmp_path / "p.toml"
    extra.write_text('[openai."gpt-4o-mini"]\ninput = 9\noutput = 9\n[openai."my-model"]\ninput = 1\noutput = 3\n')
    merged = load_prices(extra)
    assert merged[("openai", "gpt-4o-mini")].input == 9 and merged[("openai", "my-model")].output == 3
    assert price_for("openai", "gpt-4o-mini-2024-07-18", prices) is prices[("openai", "gpt-4o-mini")]
    assert price_for("openai", "gpt-4o-2024-08-06", prices) is prices[("openai", "gpt-4o")]
    assert price_for("ollama", "llava", prices) is FREE
    assert price_for("openai", "llava-served-by-vllm", prices) is None


def test_a_bad_price_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[openai."m"]\ninput = 1\n')
    with pytest.raises(DescriberConfigError, match="needs input and output"):
        load_prices(bad)
    bad.write_text("not toml [")
    with pytest.raises(DescriberConfigError, match="not valid TOML"):
        load_prices(bad)


def test_estimate_by_hand():
    prompt = "x" * 400  # 100 text tokens + 10 overhead
    result = estimate([(1024, 768), (300, 200)], prompt, GPT4O, max_side=512, detail=None,
                      completion_tokens=120, completion_basis="given")
    # 1024x768 -> 512x384 (1 tile, 255 tokens); 300x200 (1 tile, 255 tokens)
    assert result.prompt_tokens == 2 * (110 + 255)
    assert result.completion_tokens == 240
    assert result.cost == pytest.approx((730 * 2.5 + 240 * 10) / 1e6)
    default = estimate([(10, 10)], prompt, None, max_side=None)
    assert default.cost is None and default.completion_tokens == DEFAULT_COMPLETION_TOKENS


def test_budget_reserves_in_flight_and_settles_at_actual_cost():
    budget = Budget(0.001, Price(1.0, 2.0), per_image=0.0003)
    key = DescriptionKey("a", "openai", "m", "p")
    assert budget.reserve() and budget.reserve() and budget.reserve()  # 0.0009 reserved
    assert not budget.reserve() and budget.exhausted
    budget.settle(DescriptionRecord(key, "ok", prompt_tokens=100, completion_tokens=50))
    assert budget.spent == pytest.approx(0.0002) and budget.reserved == pytest.approx(0.0006)
    with pytest.raises(DescriberConfigError, match="price"):
        Budget(1.0, None, per_image=0.0)
    with pytest.raises(DescriberConfigError, match="positive"):
        Budget(-1, Price(1, 1), per_image=0.0)


def test_runner_stops_sending_at_the_budget_and_says_how_far_it_got(tmp_path):
    items = write_images(tmp_path, 10, size=(64, 48))
    with FakeLLMServer() as server:  # every answer reports 100 prompt + 50 completion tokens
        describer = create_describer("openai:m", base_url=server.openai_base_url)
        price = Price(1.0, 2.0)  # 100 x 1 + 50 x 2 = 200 per 1M tokens = $0.0002 per image
        budget = Budget(0.001, price, per_image=0.0002)
        summary = describe_images(items, describer, PRESETS["connotative"], MemoryCache(),
                                  concurrency=1, progress=False, budget=budget)
        assert len(server.requests) == 5 and summary.ok == 5
        assert summary.budget_stopped and summary.cost == pytest.approx(0.001)
        assert "budget reached: stopped sending after 5 of 10" in str(summary)
        assert "estimated cost $0.0010" in str(summary)


def test_study_dry_run_counts_distinct_and_cached_images(tmp_study, tmp_path):
    folder = tmp_path / "img"
    items = write_images(folder, 4, size=(1024, 768))
    (folder / "copy.png").write_bytes((folder / "img0000.png").read_bytes())  # an exact duplicate
    tmp_study.ingest(folder, progress=False)
    prices = tmp_path / "p.toml"
    prices.write_text('[openai."m"]\ninput = 1\noutput = 2\n')
    with FakeLLMServer() as server:
        options = DescribeOptions(base_url=server.openai_base_url, prices=str(prices))
        plan = tmp_study.describe("openai:m", options=options, dry_run=True)
        assert (plan.images, plan.cached, plan.to_send) == (4, 0, 4)
        assert plan.estimate.cost is not None and not server.requests  # nothing sent
        summary = tmp_study.describe("openai:m", options=options, progress=False)
        assert summary.ok == 4 and summary.cost == pytest.approx(4 * 200 / 1e6)
        again = tmp_study.describe("openai:m", options=options, dry_run=True)
        assert (again.cached, again.to_send) == (4, 0)
        assert len(items) == 4


def test_cli_dry_run_prints_the_plan(tmp_path, monkeypatch):
    from semclust.cli import app

    write_images(tmp_path / "img", 3, size=(64, 48))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(tmp_path / "img"), "--study", str(tmp_path / "s"), "-q"]).exit_code == 0
    result = runner.invoke(app, ["describe", "--study", str(tmp_path / "s"), "--describer", "ollama:llava",
                                 "--base-url", "http://127.0.0.1:9", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "distinct images: 3; already described: 0; to send: 3" in result.output
    assert "estimated cost: $0.0000" in result.output  # a local model costs nothing per token
    status = runner.invoke(app, ["describe", "--study", str(tmp_path / "s"), "--status"])
    assert status.exit_code == 0 and "no batches" in status.output
