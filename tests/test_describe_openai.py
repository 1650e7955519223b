"""``openai:`` against a local server speaking the chat-completions protocol."""

from __future__ import annotations

import base64
import io
import logging
import traceback

import pytest
from PIL import Image

from fake_llm_server import (
    OPENAI_PATH,
    FakeLLMServer,
    MemoryCache,
    Reply,
    default_text,
    openai_body,
    write_images,
)
from semclust.stages.describe import (
    PRESETS,
    AuthenticationError,
    DescriberConfigError,
    create_describer,
    describe_images,
)

PROMPT = PRESETS["connotative"]
SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_default_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def run(items, describer, cache, **kwargs):
    return describe_images(
        items, describer, PROMPT, cache, progress=False, base_delay=0.001, **kwargs
    )


def test_request_carries_prompt_and_downscaled_jpeg(server, tmp_path):
    items = write_images(tmp_path, 1, size=(800, 600))
    describer = create_describer(
        "openai:fake-vision-1", base_url=server.openai_base_url, temperature=0.2, max_tokens=300
    )
    cache = MemoryCache()
    summary = run(items, describer, cache, max_side=256)

    (request,) = server.requests
    assert request.path == OPENAI_PATH
    assert "authorization" not in request.headers  # local server, no key configured
    body = request.json
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("fake-vision-1", 0.2, 300)
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert message["content"][0] == {"type": "text", "text": PROMPT}
    assert message["content"][1]["type"] == "image_url"
    assert message["content"][1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(request.image_bytes()))
    assert sent.format == "JPEG" and sent.size == (256, 192)

    (record,) = cache.records.values()
    assert record.status == "ok"
    assert record.text == default_text(request.image_b64())
    assert (record.prompt_tokens, record.completion_tokens) == (100, 50)
    assert record.finish_reason == "stop"
    assert record.served_model == "fake-vision-1"
    assert summary.ok == 1


def test_unset_parameters_are_not_sent(server, tmp_path):
    describer = create_describer("openai:m", base_url=server.openai_base_url, temperature=None)
    run(write_images(tmp_path, 1, size=(64, 64)), describer, MemoryCache())
    assert set(server.requests[0].json) == {"model", "messages"}
    assert describer.generation_params() == {}


def test_api_key_is_sent_but_never_shown(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SEMCLUST_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    describer = create_describer(
        "openai:m", base_url=server.openai_base_url, api_key_env="SEMCLUST_TEST_KEY"
    )
    server.queue(
        Reply(),
        Reply(500, {"error": {"message": f"upstream echoed {SECRET}"}}),
        Reply(401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}}),
    )
    cache = MemoryCache()
    with pytest.raises(AuthenticationError) as info:
        run(write_images(tmp_path, 2, size=(64, 64)), describer, cache, concurrency=1)

    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {SECRET}"] * 3
    shown = [
        "".join(traceback.format_exception(info.value)),
        caplog.text,
        repr(describer),
        repr(vars(describer)),
        *(repr(record) for record in cache.records.values()),
    ]
    assert all(SECRET not in text for text in shown)
    assert "SEMCLUST_TEST_KEY" in str(info.value) and "***" in str(info.value)
    assert "HTTP 500" in caplog.text  # the retry was logged, redacted


def test_openai_endpoint_without_key_is_a_config_error():
    with pytest.raises(DescriberConfigError, match="OPENAI_API_KEY"):
        create_describer("openai:gpt-4o-mini")


def test_named_key_variable_must_be_set(server):
    with pytest.raises(DescriberConfigError, match="MY_UNSET_KEY"):
        create_describer("openai:m", base_url=server.openai_base_url, api_key_env="MY_UNSET_KEY")


@pytest.mark.parametrize(
    ("spec", "options", "match"),
    [
        ("openai:", {"base_url": "http://x/v1"}, "needs a model name"),
        ("openai:m", {"base_url": "http://x/v1", "colour": "red"}, "'colour'.*known: base_url"),
        ("openai:m", {"base_url": "ftp://x/v1"}, "base_url must start with http"),
        ("openai:m", {"base_url": "http://x/v1", "temperature": 5}, "temperature"),
        ("openai:m", {"base_url": "http://x/v1", "max_tokens": 0}, "max_tokens"),
        ("openai:m", {"base_url": "http://x/v1", "detail": "medium"}, "detail"),
    ],
)
def test_bad_options_are_named(spec, options, match):
    with pytest.raises(DescriberConfigError, match=match):
        create_describer(spec, **options)


def test_refusal_signals_are_recorded_as_refused(server, tmp_path):
    server.queue(
        Reply(body=openai_body(None, refusal="I can't help with identifying people.")),
        Reply(body=openai_body("", finish_reason="content_filter")),
    )
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    cache = MemoryCache()
    summary = run(write_images(tmp_path, 2, size=(64, 64)), describer, cache, concurrency=1)

    assert (summary.refused, summary.ok, len(server.requests)) == (2, 0, 2)
    assert summary.prompt_tokens == 200  # refusals are paid for, so they are counted
    errors = sorted(record.error for record in cache.records.values())
    assert errors == [
        "model refused: I can't help with identifying people.",
        "provider's content filter blocked the answer",
    ]


def test_empty_answer_at_token_limit_fails_without_retry(server, tmp_path):
    server.queue(Reply(body=openai_body("", finish_reason="length")))
    describer = create_describer("openai:m", base_url=server.openai_base_url, max_tokens=5)
    cache = MemoryCache()
    assert run(write_images(tmp_path, 1, size=(64, 64)), describer, cache).failed == 1
    assert len(server.requests) == 1
    assert "max_tokens was used up" in next(iter(cache.records.values())).error


def test_missing_choices_is_malformed(server, tmp_path):
    server.queue(*[Reply(body={"error": "weird proxy"})] * 2)
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    cache = MemoryCache()
    run(write_images(tmp_path, 1, size=(64, 64)), describer, cache, max_retries=1)
    assert "no choices[0].message" in next(iter(cache.records.values())).error


def test_404_names_base_url_and_model(server, tmp_path):
    describer = create_describer("openai:m", base_url=server.base_url)  # forgot the /v1
    cache = MemoryCache()
    run(write_images(tmp_path, 1, size=(64, 64)), describer, cache)
    error = next(iter(cache.records.values())).error
    assert "HTTP 404" in error and server.base_url in error and "'m'" in error


def test_data_url_is_valid_base64_of_the_image(server, tmp_path):
    items = write_images(tmp_path, 1, size=(100, 50))
    describer = create_describer("openai:m", base_url=server.openai_base_url)
    run(items, describer, MemoryCache(), max_side=None)  # small image: sent at full size
    url = server.requests[0].json["messages"][0]["content"][1]["image_url"]["url"]
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True)))
    assert sent.size == (100, 50)
