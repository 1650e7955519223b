"""A local server speaking OpenAI's ``POST /v1/embeddings`` protocol, for the ``openai:`` embedder's tests.

``with EmbeddingsServer(vector_of) as server:`` answers each text with ``vector_of(text)``
(data in reverse order, as the protocol allows); ``server.script`` holds ``(status, headers)``
replies to give first (a 429 with Retry-After, a 500, ...); ``server.requests`` records
``(arrival time, texts)`` of every request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EmbeddingsServer:
    def __init__(self, vector_of: Callable[[str], list[float]]):
        self.vector_of = vector_of
        self.script: list[tuple[int, dict]] = []
        self.requests: list[tuple[float, list[str]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> EmbeddingsServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: EmbeddingsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append((time.monotonic(), body["input"]))
            status, headers = server.script.pop(0) if server.script else (200, {})
            if status == 200:
                data = [{"object": "embedding", "index": i, "embedding": server.vector_of(t)}
                        for i, t in enumerate(body["input"])]
                payload = {"object": "list", "data": data[::-1], "model": body["model"]}
            else:
                payload = {"error": {"message": "slow down", "type": "rate_limit"}}
            raw = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    return Handler
