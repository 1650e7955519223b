"""The ``openai:`` embedder against a local /v1/embeddings server that fails late in the run."""

from __future__ import annotations

import numpy as np
import pytest

from local_embeddings import EmbeddingsServer
from semclust.core.errors import SemclustError
from semclust.core.store import text_hash
from semclust.stages.embed.openai_embeddings import OpenAIEmbedder


@pytest.fixture
def server():
    with EmbeddingsServer(lambda t: [float(len(t)), float(t.count("a")), 1.0]) as local:
        yield local


TEXTS = [f"text {'a' * i}" for i in range(10)]


def expected(texts):
    return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_retry_after_is_honoured_and_the_batch_retried(server):
    server.script = [(200, {}), (429, {"Retry-After": "0.4"}), (503, {})]
    embedder = OpenAIEmbedder(base_url=server.url, batch_size=4, base_delay=0.01, max_delay=0.02)
    vectors = embedder.embed_texts(TEXTS)
    np.testing.assert_array_equal(vectors, expected(TEXTS))
    times = [t for t, _ in server.requests]
    assert len(times) == 5  # batch 2 asked three times, batch 3 once
    assert times[2] - times[1] >= 0.4  # waited as the server asked
    assert server.requests[1][1] == server.requests[2][1] == TEXTS[4:8]


def test_requests_per_minute_spaces_requests(server):
    OpenAIEmbedder(base_url=server.url, batch_size=2, requests_per_minute=300).embed_texts(TEXTS[:6])
    times = [t for t, _ in server.requests]
    # 300 per minute = one every 0.2 s (arrival times jitter a little on a loaded machine)
    assert min(np.diff(times)) >= 0.15 and times[-1] - times[0] >= 0.38


def test_a_client_error_is_not_retried(server):
    server.script = [(400, {})]
    with pytest.raises(SemclustError, match="HTTP 400"):
        OpenAIEmbedder(base_url=server.url, batch_size=4).embed_texts(TEXTS)
    assert len(server.requests) == 1


def test_late_failure_keeps_every_paid_batch_and_a_rerun_sends_only_the_rest(server, tmp_study, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test")
    # batches 1 and 2 succeed, batch 3 fails every attempt (the run stops), then the server recovers
    server.script = [(200, {}), (200, {})] + [(500, {})] * 3
    flaky = OpenAIEmbedder(base_url=server.url, batch_size=3, max_retries=2, base_delay=0.01, max_delay=0.02)
    with pytest.raises(SemclustError, match="gave up after 3 attempts") as info:
        tmp_study.embed_texts(TEXTS, "openai:text-embedding-3-small", backend=flaky)
    assert "sk-secret-test" not in str(info.value)
    stored = tmp_study.store.get_vectors("text_embeddings", "openai:text-embedding-3-small",
                                         [text_hash(t) for t in TEXTS])
    assert set(stored) == {text_hash(t) for t in TEXTS[:6]}  # both paid batches are on disk
    sent_before = len(server.requests)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)  # the name alone now reaches the local server
    vectors = tmp_study.embed_texts(TEXTS, "openai:text-embedding-3-small")
    np.testing.assert_array_equal(vectors, expected(TEXTS))
    resent = [text for _, batch in server.requests[sent_before:] for text in batch]
    assert resent == TEXTS[6:]
