"""``ollama:`` against a local server speaking Ollama's native ``/api/chat`` protocol."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fake_llm_server import (
    OLLAMA_PATH,
    FakeLLMServer,
    MemoryCache,
    Reply,
    default_text,
    ollama_body,
    write_images,
)
from semclust.stages.describe import (
    PRESETS,
    DescriberConfigError,
    create_describer,
    describe_images,
)
from semclust.stages.describe.ollama import DEFAULT_BASE_URL

PROMPT = PRESETS["denotative"]


@pytest.fixture
def server():
    with FakeLLMServer() as srv:
        yield srv


def run(items, describer, cache, **kwargs):
    return describe_images(
        items, describer, PROMPT, cache, progress=False, base_delay=0.001, **kwargs
    )


def test_request_and_response_follow_the_native_protocol(server, tmp_path):
    items = write_images(tmp_path, 1, size=(300, 600))
    describer = create_describer(
        "ollama:llava:13b", base_url=server.base_url, temperature=0.1, max_tokens=200
    )
    cache = MemoryCache()
    run(items, describer, cache, max_side=128)

    (request,) = server.requests
    assert request.path == OLLAMA_PATH
    body = request.json
    assert body["model"] == "llava:13b"  # model names may contain colons
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0.1, "num_predict": 200}
    (message,) = body["messages"]
    assert (message["role"], message["content"]) == ("user", PROMPT)
    (image_b64,) = message["images"]
    assert not image_b64.startswith("data:")  # Ollama takes bare base64
    sent = Image.open(io.BytesIO(request.image_bytes()))
    assert sent.format == "JPEG" and sent.size == (64, 128)

    (record,) = cache.records.values()
    assert record.status == "ok" and record.text == default_text(image_b64)
    assert (record.prompt_tokens, record.completion_tokens) == (100, 50)
    assert record.key.describer == "ollama" and record.key.model == "llava:13b"


def test_defaults_send_no_options():
    describer = create_describer("ollama:llava")
    assert describer.base_url == DEFAULT_BASE_URL
    assert describer.generation_params() == {}


def test_token_counts_come_from_eval_counts(server, tmp_path):
    server.queue(Reply(body=ollama_body("A protest.", prompt_eval_count=612, eval_count=88)))
    describer = create_describer("ollama:llava", base_url=server.base_url)
    summary = run(write_images(tmp_path, 1, size=(64, 64)), describer, MemoryCache())
    assert (summary.prompt_tokens, summary.completion_tokens) == (612, 88)


def test_model_not_found_is_recorded_with_the_servers_reason(server, tmp_path):
    server.queue(Reply(404, {"error": "model 'llava' not found, try pulling it first"}))
    describer = create_describer("ollama:llava", base_url=server.base_url)
    cache = MemoryCache()
    assert run(write_images(tmp_path, 1, size=(64, 64)), describer, cache).failed == 1
    assert len(server.requests) == 1  # a 404 is not retried
    error = next(iter(cache.records.values())).error
    assert "HTTP 404: model 'llava' not found, try pulling it first" in error


def test_reply_without_message_is_retried_then_failed(server, tmp_path):
    server.queue(*[Reply(body={"done": True})] * 2)
    describer = create_describer("ollama:llava", base_url=server.base_url)
    cache = MemoryCache()
    summary = run(write_images(tmp_path, 1, size=(64, 64)), describer, cache, max_retries=1)
    assert (summary.failed, summary.attempts) == (1, 2)
    assert "no message.content" in next(iter(cache.records.values())).error


def test_unknown_option_is_named():
    with pytest.raises(DescriberConfigError, match="'api_key_env'.*known: base_url"):
        create_describer("ollama:llava", api_key_env="X")
