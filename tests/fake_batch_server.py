"""A local server speaking OpenAI's Files and Batches wire protocol, for the ``--batch`` tests and benchmark.

Routes: ``POST /v1/files`` (multipart, ``purpose=batch``), ``GET /v1/files/{id}/content``,
``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/batches`` (``limit``, ``after``).
A batch moves ``validating -> in_progress -> completed`` one step per retrieve (or stays
``in_progress`` while :attr:`FakeBatchServer.hold` is set). On completion every request is
answered as ``POST /v1/chat/completions`` would be, into an output file; scripted failures
go to an error file. ``expire_after=k`` ends the next batch as ``expired`` with only its
first ``k`` requests answered, the rest in the error file with code ``batch_expired``,
as OpenAI does. Limits are enforced as the provider does: a file over ``max_bytes`` is
refused at upload, one with more than ``max_requests`` lines fails validation.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_llm_server import default_text, openai_body


class FakeBatchServer:
    """``with FakeBatchServer(max_requests=..., max_bytes=...) as server: server.openai_base_url``"""

    def __init__(self, max_requests: int = 50_000, max_bytes: int = 200 * 1024 * 1024):
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.hold = False  # keep batches in_progress
        self.expire_after: int | None = None  # the next batch to finish expires after k answers
        self.fail_times: Counter[str] = Counter()  # custom_id -> answer HTTP 500 this many times
        self.drop_next_create = False  # create the batch, then hang up without answering
        self.prompts: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def openai_base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeBatchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):05d}"

    # --- routes ------------------------------------------------------------------------
    def upload(self, purpose: str, content: bytes) -> tuple[int, dict]:
        if purpose != "batch":
            return 400, _error(f"purpose must be 'batch', got {purpose!r}")
        if len(content) > self.max_bytes:
            return 413, _error(f"file of {len(content)} bytes exceeds {self.max_bytes}")
        file_id = self.new_id("file")
        self.files[file_id] = content
        return 200, {"id": file_id, "object": "file", "bytes": len(content), "purpose": "batch",
                     "filename": "batch.jsonl", "created_at": 0}

    def create(self, body: dict) -> tuple[int, dict]:
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return 404, _error(f"no file {file_id!r}")
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return 400, _error("endpoint must be /v1/chat/completions and completion_window 24h")
        lines = [json.loads(x) for x in self.files[file_id].splitlines() if x.strip()]
        batch = {"id": self.new_id("batch"), "object": "batch", "endpoint": body["endpoint"],
                 "input_file_id": file_id, "completion_window": "24h", "status": "validating",
                 "output_file_id": None, "error_file_id": None, "errors": None,
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "metadata": body.get("metadata"), "created_at": 0}
        if len(lines) > self.max_requests:
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": [
                {"code": "too_many_requests", "message": f"{len(lines)} requests > {self.max_requests}"}]}
        batch["_lines"] = lines
        self.batches[batch["id"]] = batch
        return 200, _public(batch)

    def retrieve(self, batch_id: str) -> tuple[int, dict]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, _error(f"no batch {batch_id!r}")
        if batch["status"] == "validating":
            batch["status"] = "in_progress"
        elif batch["status"] == "in_progress" and not self.hold:
            self._finish(batch)
        return 200, _public(batch)

    def list(self, limit: int, after: str | None) -> dict:
        ordered = sorted(self.batches.values(), key=lambda b: b["id"], reverse=True)
        if after:
            ordered = [b for b in ordered if b["id"] < after]
        page = ordered[:limit]
        return {"object": "list", "data": [_public(b) for b in page],
                "has_more": len(ordered) > limit,
                "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None}

    def _finish(self, batch: dict) -> None:
        out, err = [], []
        expire, self.expire_after = self.expire_after, None
        for i, line in enumerate(batch["_lines"]):
            cid = line["custom_id"]
            if expire is not None and i >= expire:
                err.append({"id": f"req-{i}", "custom_id": cid, "response": None,
                            "error": {"code": "batch_expired", "message": "This request could not be "
                                      "executed before the completion window expired."}})
            elif self.fail_times[cid] > 0:
                self.fail_times[cid] -= 1
                err.append({"id": f"req-{i}", "custom_id": cid, "error": None, "response": {
                    "status_code": 500, "request_id": f"r{i}",
                    "body": {"error": {"message": "The server had an error", "type": "server_error"}}}})
            else:
                content = line["body"]["messages"][0]["content"]
                self.prompts.append(content[0]["text"])
                image_b64 = content[1]["image_url"]["url"].split(",", 1)[1]
                out.append({"id": f"req-{i}", "custom_id": cid, "error": None, "response": {
                    "status_code": 200, "request_id": f"r{i}", "body": openai_body(default_text(image_b64))}})
        for name, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                file_id = self.new_id("file")
                self.files[file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch[name] = file_id
        batch["status"] = "expired" if expire is not None else "completed"
        batch["request_counts"].update(completed=len(out), failed=len(err))


def _public(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _error(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """Form fields of a multipart/form-data body, by name."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()}


def _handler_for(server: FakeBatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = urlsplit(self.path).path
            with server._lock:
                if path == "/v1/files":
                    server.calls["upload"] += 1
                    fields = _multipart(self.headers["Content-Type"], raw)
                    status, body = server.upload(fields.get("purpose", b"").decode(), fields.get("file", b""))
                elif path == "/v1/batches":
                    server.calls["create"] += 1
                    status, body = server.create(json.loads(raw))
                    if server.drop_next_create:
                        server.drop_next_create = False
                        self.close_connection = True
                        self.connection.shutdown(2)  # the batch exists; the client never hears of it
                        return
                else:
                    status, body = 404, _error(f"no route {path}")
            self._send(status, body)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            with server._lock:
                if parts[:2] == ["v1", "batches"] and len(parts) == 3:
                    server.calls["retrieve"] += 1
                    status, body = server.retrieve(parts[2])
                elif parts[:2] == ["v1", "batches"]:
                    server.calls["list"] += 1
                    query = parse_qs(url.query)
                    status, body = 200, server.list(int(query.get("limit", ["20"])[0]),
                                                    query.get("after", [None])[0])
                elif parts[:2] == ["v1", "files"] and parts[-1] == "content" and parts[2] in server.files:
                    server.calls["download"] += 1
                    self._send(200, server.files[parts[2]], "application/octet-stream")
                    return
                else:
                    status, body = 404, _error(f"no route {url.path}")
            self._send(status, body)

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
