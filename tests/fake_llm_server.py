"""A real HTTP server on 127.0.0.1 that speaks the describers' wire protocols, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (OpenAI) and ``POST /api/chat`` (Ollama). Each
request takes the next scripted :class:`Reply` from :meth:`FakeLLMServer.queue`, or,
when none is left, a default success whose text names a digest of the image it got, so
a test can tell which image a description belongs to. Every request is recorded.

``python tests/fake_llm_server.py --delay 1`` serves in its own process (so that its
JSON parsing does not share the GIL with the client being measured) and prints its
base URL on the first line of stdout.

Also here, for tests and the benchmark: :class:`MemoryCache`, an in-memory
``DescriptionCache``, and :func:`write_images`, which makes distinct small images.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from semclust.core.store.records import DescriptionKey, DescriptionRecord

OPENAI_PATH = "/v1/chat/completions"
OLLAMA_PATH = "/api/chat"


@dataclass
class Reply:
    """One scripted answer: a JSON ``body`` (dict) or raw text (str), after ``delay`` seconds."""

    status: int = 200
    body: dict[str, Any] | str | None = None  # None: the default success for the path
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None  # None: the server's default delay


@dataclass
class RecordedRequest:
    arrived: float  # time.monotonic() when the request was read
    path: str
    headers: dict[str, str]  # lower-case names
    json: Any

    def image_b64(self) -> str:
        """The image as plain base64 (data-URL prefix removed), whichever protocol sent it."""
        message = self.json["messages"][0]
        if self.path == OLLAMA_PATH:
            return message["images"][0]
        url = message["content"][1]["image_url"]["url"]
        prefix = "data:image/jpeg;base64,"
        assert url.startswith(prefix), url[:40]
        return url[len(prefix) :]

    def image_bytes(self) -> bytes:
        return base64.b64decode(self.image_b64(), validate=True)

    def prompt(self) -> str:
        message = self.json["messages"][0]
        return message["content"] if self.path == OLLAMA_PATH else message["content"][0]["text"]


def image_digest(image_b64: str) -> str:
    return hashlib.sha256(image_b64.encode("ascii")).hexdigest()[:12]


def openai_body(
    text: str | None,
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if refusal is not None:
        message["refusal"] = refusal
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake-vision-1",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def ollama_body(
    text: str, prompt_eval_count: int = 100, eval_count: int = 50, done_reason: str = "stop"
) -> dict[str, Any]:
    return {
        "model": "fake-vision-1",
        "created_at": "2024-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": True,
        "done_reason": done_reason,
        "prompt_eval_count": prompt_eval_count,
        "eval_count": eval_count,
    }


def default_text(image_b64: str) -> str:
    return f"A fake description of image {image_digest(image_b64)}."


class FakeLLMServer:
    """``with FakeLLMServer(delay=1.0) as server: ... server.openai_base_url ...``"""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def queue(self, *replies: Reply) -> None:
        """Script the next replies, in order, whatever image they end up answering."""
        with self._lock:
            self._script.extend(replies)

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            reply = self._script.popleft() if self._script else Reply()
        if reply.body is None:
            reply = Reply(reply.status, _default_body(request), reply.headers, reply.delay)
        return reply

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # 32 clients connecting at once must not wait for a SYN retry

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)


def _default_body(request: RecordedRequest) -> dict[str, Any]:
    text = default_text(request.image_b64())
    return ollama_body(text) if request.path == OLLAMA_PATH else openai_body(text)


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        disable_nagle_algorithm = True  # else headers and body wait ~40 ms for a delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = RecordedRequest(time.monotonic(), self.path, headers, payload)
            if self.path not in (OPENAI_PATH, OLLAMA_PATH):
                self._send(Reply(404, {"error": f"no route {self.path}"}))
                return
            reply = server._next_reply(request)
            try:
                time.sleep(server.delay if reply.delay is None else reply.delay)
                self._send(reply)
            finally:
                server._done()

        def _send(self, reply: Reply) -> None:
            is_text = isinstance(reply.body, str)
            data = (reply.body if is_text else json.dumps(reply.body)).encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/plain" if is_text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep test output clean

    return Handler


class MemoryCache:
    """A ``DescriptionCache`` in a dict; ``interrupt_after=N`` presses Ctrl-C after the N-th put.

    The interrupt is a real SIGINT, so it takes the path a user's Ctrl-C takes through
    ``asyncio.run`` (main task cancelled, then KeyboardInterrupt).
    """

    def __init__(self, interrupt_after: int | None = None):
        self.records: dict[DescriptionKey, DescriptionRecord] = {}
        self.interrupt_after = interrupt_after

    def get_many(self, keys: list[DescriptionKey]) -> dict[DescriptionKey, DescriptionRecord]:
        return {key: self.records[key] for key in keys if key in self.records}

    def put(self, record: DescriptionRecord) -> None:
        self.records[record.key] = record
        if len(self.records) == self.interrupt_after:
            signal.raise_signal(signal.SIGINT)


def write_images(
    folder: Path, n: int, size: tuple[int, int] = (640, 480), seed: int = 0, suffix: str = ".png"
) -> list[tuple[str, str]]:
    """``n`` distinct random images (PNG, or the format ``suffix`` names) in ``folder``,
    as ``(sha256 of the file, path)`` pairs."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        path = folder / f"img{i:04d}{suffix}"
        pixels = rng.integers(0, 256, size=(size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST).save(path)
        items.append((hashlib.sha256(path.read_bytes()).hexdigest(), str(path)))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake LLM until killed.")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args()
    with FakeLLMServer(delay=args.delay) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
