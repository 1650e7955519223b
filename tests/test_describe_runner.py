"""The describe runner against a real local HTTP server: caching, retries, limits, crashes."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time

import httpx
import pytest

from fake_llm_server import (
    FakeLLMServer,
    MemoryCache,
    Reply,
    image_digest,
    openai_body,
    write_images,
)
from semclust.core.errors import UnknownBackendError
from semclust.core.retry import parse_retry_after
from semclust.stages.describe import (
    PRESETS,
    AuthenticationError,
    DescriberConfigError,
    create_describer,
    describe_images,
    resolve_prompt,
)
from semclust.stages.describe.ratelimit import Throttle
from semclust.stages.describe.refusal import detect_refusal

PROMPT = PRESETS["connotative"]


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def describer(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return create_describer("openai:fake-vision-1", base_url=server.openai_base_url)


@pytest.fixture
def images(tmp_path):
    return write_images(tmp_path / "img", 8, size=(96, 64))


def run(items, describer, cache, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("base_delay", 0.001)
    return describe_images(items, describer, PROMPT, cache, **kwargs)


def test_success_then_cache_hit_makes_no_request(server, describer, images):
    cache = MemoryCache()
    first = run(images[:3], describer, cache)
    assert (first.requested, first.ok, first.cached, first.failed) == (3, 3, 0, 0)
    assert (first.prompt_tokens, first.completion_tokens) == (300, 150)
    assert len(server.requests) == 3
    texts = {r.key.sha256: r.text for r in cache.records.values()}
    for request in server.requests:  # each text belongs to the image that was sent
        assert f"image {image_digest(request.image_b64())}" in " ".join(texts.values())

    again = run(images[:3], describer, cache)
    assert (again.requested, again.cached, again.ok) == (0, 3, 0)
    assert len(server.requests) == 3


def test_prompt_and_max_side_are_part_of_the_key(server, describer, images):
    cache = MemoryCache()
    run(images[:2], describer, cache)
    describe_images(images[:2], describer, PRESETS["denotative"], cache, progress=False)
    run(images[:2], describer, cache, max_side=32)
    assert len(server.requests) == 6
    assert {r.prompt() for r in server.requests} == {PROMPT, PRESETS["denotative"]}
    assert len(cache.records) == 6


def test_duplicate_hashes_are_described_once(server, describer, images):
    summary = run([images[0], images[0], images[1]], describer, MemoryCache())
    assert summary.requested == 2
    assert len(server.requests) == 2


def test_retry_after_is_honoured(server, describer, images):
    server.queue(Reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "1"}))
    cache = MemoryCache()
    summary = run(images[:1], describer, cache)
    assert summary.ok == 1 and summary.attempts == 2
    gap = server.requests[1].arrived - server.requests[0].arrived
    assert gap >= 0.95  # without Retry-After the backoff would be ~1 ms
    (record,) = cache.records.values()
    assert record.attempts == 2


def test_retry_after_pauses_every_worker():
    throttle = Throttle()

    async def two_workers_after_a_hold() -> float:
        throttle.hold(0.3)
        started = time.monotonic()
        await asyncio.gather(throttle.acquire(), throttle.acquire())
        return time.monotonic() - started

    assert asyncio.run(two_workers_after_a_hold()) >= 0.29


def test_parse_retry_after_forms():
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert parse_retry_after(httpx.Headers({"retry-after": date}), now=now) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None


def test_server_errors_are_retried_then_given_up(server, describer, images):
    server.queue(Reply(500, {"error": {"message": "boom"}}), Reply(503, "overloaded"))
    cache = MemoryCache()
    assert run(images[:1], describer, cache).ok == 1
    assert len(server.requests) == 3

    server.queue(*[Reply(502, "bad gateway")] * 3)
    summary = run(images[1:2], describer, cache, max_retries=2)
    assert (summary.failed, summary.attempts) == (1, 3)
    record = cache.records[next(k for k in cache.records if k.sha256 == images[1][0])]
    assert record.status == "failed"
    assert "gave up after 3 attempts" in record.error and "HTTP 502" in record.error


def test_timeout_is_retried(server, describer, images):
    server.queue(Reply(delay=1.5))
    started = time.perf_counter()
    summary = run(images[:1], describer, MemoryCache(), timeout=0.3)
    assert summary.ok == 1 and summary.attempts == 2
    assert time.perf_counter() - started < 1.3


def test_malformed_json_is_retried_then_recorded_as_failed(server, describer, images):
    server.queue(Reply(body="<html>oops"))
    cache = MemoryCache()
    assert run(images[:1], describer, cache).ok == 1

    server.queue(*[Reply(body="{not json")] * 3)
    summary = run(images[1:2], describer, cache, max_retries=2)
    assert summary.failed == 1 and len(server.requests) == 5
    failed = [r for r in cache.records.values() if r.status == "failed"]
    assert "not JSON" in failed[0].error


def test_connection_refused_fails_after_retries(monkeypatch, images):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    describer = create_describer("openai:m", base_url=f"http://127.0.0.1:{port}/v1")
    cache = MemoryCache()
    summary = run(images[:1], describer, cache, max_retries=1)
    assert (summary.failed, summary.attempts) == (1, 2)
    assert "connection error" in next(iter(cache.records.values())).error


def test_unreadable_image_fails_without_request(server, describer, images, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a jpeg")
    cache = MemoryCache()
    summary = run([("deadbeef", str(broken)), images[0]], describer, cache)
    assert (summary.failed, summary.ok) == (1, 1)
    assert len(server.requests) == 1
    failed = next(r for r in cache.records.values() if r.status == "failed")
    assert failed.key.sha256 == "deadbeef" and failed.error.startswith("unreadable image")


def test_concurrency_is_bounded(server, describer, images):
    server.delay = 0.25
    started = time.perf_counter()
    summary = run(images[:6], describer, MemoryCache(), concurrency=3)
    elapsed = time.perf_counter() - started
    assert summary.ok == 6
    assert server.max_in_flight == 3
    assert elapsed < 6 * 0.25  # really in parallel (serial would take 1.5 s)


def test_requests_per_minute_spaces_requests(server, describer, images):
    summary = run(images[:5], describer, MemoryCache(), concurrency=5, requests_per_minute=600)
    assert summary.ok == 5
    arrivals = sorted(r.arrived for r in server.requests)
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
    assert gaps[len(gaps) // 2] >= 0.08  # 60 / 600 = 0.1 s apart (median: robust to one late read)
    assert arrivals[-1] - arrivals[0] >= 0.33  # four gaps of 0.1 s, minus scheduling slack


def test_ctrl_c_halfway_then_rerun_asks_only_for_the_missing(server, describer, images):
    server.delay = 0.05
    cache = MemoryCache(interrupt_after=3)
    with pytest.raises(KeyboardInterrupt):
        run(images, describer, cache, concurrency=2)
    kept = {key.sha256 for key in cache.records}
    assert 3 <= len(kept) < len(images)  # what arrived before Ctrl-C is kept (maybe one more)

    first_run_requests = len(server.requests)
    cache.interrupt_after = None
    summary = run(images, describer, cache, concurrency=2)
    missing = len(images) - len(kept)
    assert (summary.cached, summary.requested, summary.ok) == (len(kept), missing, missing)
    rerun = server.requests[first_run_requests:]
    digest_of = {
        r.key.sha256: r.text.split("image ")[1].rstrip(".") for r in cache.records.values()
    }
    assert sorted(image_digest(r.image_b64()) for r in rerun) == sorted(
        digest_of[sha] for sha, _ in images if sha not in kept
    )


def test_failed_images_are_retried_only_when_asked(server, describer, images):
    server.queue(Reply(400, {"error": {"message": "invalid image"}}))
    cache = MemoryCache()
    assert run(images[:1], describer, cache).failed == 1
    skipped = run(images[:1], describer, cache, retry_failed=False)
    assert (skipped.cached, skipped.requested) == (1, 0)
    assert len(server.requests) == 1
    retried = run(images[:1], describer, cache)
    assert (retried.ok, len(server.requests)) == (1, 2)


def test_authentication_error_stops_the_run(server, describer, images):
    server.queue(Reply(401, {"error": {"message": "Incorrect API key provided"}}))
    cache = MemoryCache()
    with pytest.raises(AuthenticationError, match="stopped after 0 of 5 images.*HTTP 401"):
        run(images[:5], describer, cache, concurrency=1)
    assert len(server.requests) == 1
    assert cache.records == {}  # nothing recorded as failed: a rerun with a good key retries it


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"max_retries": -1}, "max_retries"),
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"timeout": 0}, "timeout"),
        ({"max_side": 0}, "max_side"),
    ],
)
def test_bad_runner_settings_are_named(describer, images, kwargs, name):
    with pytest.raises(DescriberConfigError, match=name):
        run(images[:1], describer, MemoryCache(), **kwargs)


def test_bad_item_is_named(describer, images):
    with pytest.raises(DescriberConfigError, match="item 1"):
        run([images[0], ("", "x.png")], describer, MemoryCache())


def test_sync_wrapper_works_inside_a_running_loop(describer, images):
    """As in a Jupyter cell: the blocking call runs on its own loop in a worker thread."""
    cache = MemoryCache()

    async def inside_loop():
        return run(images[:2], describer, cache)

    summary = asyncio.run(inside_loop())
    assert summary.ok == 2 and len(cache.records) == 2


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't assist with that.",
        "I can't help with that.",
        "I\u2019m unable to describe this image.",
        "Sorry, I cannot identify people in images.",
        "As an AI language model, I cannot view images.",
        "Unfortunately, I'm not able to see the image.",
    ],
)
def test_refusal_heuristic_catches_refusals(text):
    assert detect_refusal(text).startswith("model declined: ")


@pytest.mark.parametrize(
    "text",
    [
        'The meme reads "I can\'t help it" and mocks politicians.',
        "Unfortunately, the flood cannot be stopped, the image suggests.",
        "In this image, I cannot help but notice the despair.",
    ],
)
def test_refusal_heuristic_spares_descriptions(text):
    assert detect_refusal(text) is None


def test_heuristic_refusal_is_recorded_and_not_retried(server, describer, images):
    server.queue(Reply(body=openai_body("I'm sorry, but I can't assist with that.")))
    cache = MemoryCache()
    assert run(images[:1], describer, cache).refused == 1
    (record,) = cache.records.values()
    assert record.status == "refused" and "can't assist" in record.error
    assert run(images[:1], describer, cache).cached == 1 and len(server.requests) == 1


def test_prompts_presets_and_files(tmp_path):
    # Arminio et al. (2024), section 3, verbatim.
    assert resolve_prompt("connotative") == (
        "Describe the connotative meaning of this image, in one paragraph"
    )
    assert "one paragraph" in resolve_prompt("denotative")
    prompt_file = tmp_path / "p.txt"
    prompt_file.write_text("  Describe the mood of this image.\n", encoding="utf-8")
    assert resolve_prompt(str(prompt_file)) == "Describe the mood of this image."
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(DescriberConfigError, match="empty"):
        resolve_prompt(tmp_path / "empty.txt")
    with pytest.raises(DescriberConfigError, match="connotative, denotative"):
        resolve_prompt("conotative")


def test_unknown_describer_lists_known_ones():
    with pytest.raises(UnknownBackendError, match="ollama, openai"):
        create_describer("claude:opus")
