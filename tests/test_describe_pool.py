"""A pool of servers behind one describer: load spreading, per-server limits, taking a failing server out."""

from __future__ import annotations

import pytest

from fake_llm_server import FakeLLMServer, MemoryCache, Reply, write_images
from semclust.stages.describe import (
    PRESETS,
    DescriberConfigError,
    create_describer,
    describe_images,
)
from semclust.stages.describe.pool import DescriberPool


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def run(items, describer, **kwargs):
    cache = MemoryCache()
    summary = describe_images(items, describer, PRESETS["connotative"], cache, progress=False,
                              base_delay=0.001, **kwargs)
    return summary, cache


def test_requests_are_spread_and_capped_per_server(tmp_path):
    items = write_images(tmp_path, 16, size=(64, 48))
    with FakeLLMServer(delay=0.15) as a, FakeLLMServer(delay=0.15) as b:
        pool = create_describer("openai:m", base_url=f"{a.openai_base_url},{b.openai_base_url}",
                                per_server=3)
        assert isinstance(pool, DescriberPool)
        summary, cache = run(items, pool, concurrency=8)
        assert summary.ok == 16
        assert len(a.requests) + len(b.requests) == 16
        assert 5 <= len(a.requests) <= 11  # both got a fair share of the load
        assert a.max_in_flight <= 3 and b.max_in_flight <= 3  # per-server concurrency
        servers = {r.extra["server"] for r in cache.records.values()}
        assert servers == {a.openai_base_url, b.openai_base_url}


def test_a_failing_server_is_taken_out_and_its_requests_go_elsewhere(tmp_path):
    items = write_images(tmp_path, 20, size=(64, 48))
    with FakeLLMServer() as good, FakeLLMServer() as bad:
        bad.queue(*[Reply(500, {"error": {"message": "GPU fell off the bus"}})] * 100)
        pool = DescriberPool([
            create_describer("openai:m", base_url=good.openai_base_url),
            create_describer("openai:m", base_url=bad.openai_base_url),
        ], max_failures=3, cooldown=60)
        summary, _ = run(items, pool, concurrency=2)
        assert summary.ok == 20 and summary.failed == 0
        assert len(bad.requests) == 3  # out after three failures in a row, for the cooldown
        assert len(good.requests) == 20
        assert [s["out"] for s in pool.stats()] == [False, True]


def test_when_every_server_is_out_the_image_fails_with_the_reason(tmp_path):
    items = write_images(tmp_path, 2, size=(64, 48))
    with FakeLLMServer() as a, FakeLLMServer() as b:
        for server in (a, b):
            server.queue(*[Reply(503, {"error": {"message": "overloaded"}})] * 50)
        pool = DescriberPool([create_describer("openai:m", base_url=s.openai_base_url) for s in (a, b)],
                             max_failures=1, cooldown=0.05)
        summary, cache = run(items, pool, concurrency=1, max_retries=2)
        assert summary.failed == 2 and summary.ok == 0
        assert all("overloaded" in r.error or "pool" in r.error for r in cache.records.values())


def test_pool_members_must_serve_the_same_model():
    with pytest.raises(DescriberConfigError, match="same model"):
        DescriberPool([create_describer("openai:a", base_url="http://127.0.0.1:1/v1"),
                       create_describer("openai:b", base_url="http://127.0.0.1:2/v1")])
    with pytest.raises(DescriberConfigError, match="at least two"):
        DescriberPool([create_describer("openai:a", base_url="http://127.0.0.1:1/v1")])


def test_cache_key_is_the_models_not_the_servers(tmp_path):
    items = write_images(tmp_path, 4, size=(64, 48))
    with FakeLLMServer() as a, FakeLLMServer() as b:
        single = create_describer("openai:m", base_url=a.openai_base_url)
        summary, cache = run(items, single)
        pool = create_describer("openai:m", base_url=f"{a.openai_base_url},{b.openai_base_url}")
        again = describe_images(items, pool, PRESETS["connotative"], cache, progress=False)
        assert summary.ok == 4 and again.cached == 4 and len(b.requests) == 0
