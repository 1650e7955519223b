"""Text embedders: the OpenAI-compatible /embeddings wire protocol, TF-IDF top-K, the bundled MiniLM."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from semclust.core.errors import SemclustError, UnknownBackendError
from semclust.stages.embed import create_text_embedder


class EmbeddingsHandler(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings like OpenAI: one vector per input, data possibly out of order."""

    seen: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, dict(self.headers), body))
        if type(self).status != 200:
            payload = json.dumps({"error": {"message": "rate limited"}}).encode()
        else:
            data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), float(i), 1.0]}
                    for i, t in enumerate(body["input"])]
            payload = json.dumps({"object": "list", "data": data[::-1], "model": body["model"],
                                  "usage": {"prompt_tokens": 3, "total_tokens": 3}}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    EmbeddingsHandler.seen, EmbeddingsHandler.status = [], 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingsHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_embeddings_batches_and_restores_order(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    embedder = create_text_embedder("openai:text-embedding-3-small", base_url=server, batch_size=2)
    vectors = embedder.embed_texts(["a", "bb", "ccc"])
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, [[1, 0, 1], [2, 1, 1], [3, 0, 1]])  # index restored per batch
    assert [len(body["input"]) for _, _, body in EmbeddingsHandler.seen] == [2, 1]
    path, headers, body = EmbeddingsHandler.seen[0]
    assert path == "/v1/embeddings" and body["model"] == "text-embedding-3-small"
    assert headers["Authorization"] == "Bearer sk-test-secret"


def test_openai_embeddings_http_error_is_clear_and_keyless(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    EmbeddingsHandler.status = 429
    with pytest.raises(SemclustError, match="HTTP 429") as info:
        create_text_embedder("openai:text-embedding-3-small", base_url=server).embed_texts(["a"])
    assert "sk-test-secret" not in str(info.value)


def test_tfidf_top_k_keeps_k_terms_per_text_and_unit_rows():
    texts = ["solar wind energy turbines clean power", "flood water rescue storm damage homes", "solar flood"]
    vectors = create_text_embedder("tfidf:2").embed_texts(texts)
    assert ((vectors > 0).sum(axis=1) <= 2).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_bundled_minilm_is_the_default_and_normalised():
    embedder = create_text_embedder("st:all-MiniLM-L6-v2", progress=False)
    vectors = embedder.embed_texts(["wind turbines on a hill", "solar panels on a roof", "a cat asleep"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]  # renewable energy is closer to renewable energy than to a cat


@pytest.mark.parametrize("spec", ["tfidf:zero", "tfidf:0", "nope:1"])
def test_bad_embedder_specs(spec):
    with pytest.raises((SemclustError, UnknownBackendError)):
        create_text_embedder(spec)
