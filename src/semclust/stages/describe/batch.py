"""``describe --batch``: the provider's batch API (OpenAI's Files + Batches), at half the price.

The requests are the ones the live path sends (same prompt, same downscaled JPEG), written
as JSONL and split to the provider's limits (requests and bytes per file). Each file is
uploaded and recorded in the study's ledger at once, then its batch is created and its id
recorded at once; a killed run therefore resumes polling what it submitted, and a file
whose batch creation was cut off is matched to the provider's batch list by its input
file before anything is created again. Polling backs off while nothing changes. When a
batch ends, its output and error files are downloaded and every answer is stored; items
that failed transiently or expired go into a new batch, up to ``max_rounds`` batches each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.progress import TextColumn

from semclust.core.event_loop import run_sync
from semclust.core.imageio import ImageReadError
from semclust.core.progress import enabled, make_progress
from semclust.core.store.batches import BatchRow
from semclust.core.store.records import DescriptionKey, DescriptionRecord
from semclust.stages.describe.base import DescriptionCache
from semclust.stages.describe.cost import Budget
from semclust.stages.describe.errors import (
    DescriberConfigError,
    MalformedResponseError,
    RefusalError,
    RequestFailedError,
    RetryableError,
)
from semclust.stages.describe.openai_compat import OpenAIDescriber, parse_chat_completion
from semclust.stages.describe.prepare import prepare_image
from semclust.stages.describe.refusal import detect_refusal
from semclust.stages.describe.runner import DescribeSummary, description_key

log = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"
#: Batch states after which nothing changes any more.
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: Error codes in an error file that are worth a new batch.
RETRYABLE_CODES = frozenset({"batch_expired", "batch_cancelled", "rate_limit_exceeded", "server_error"})


@dataclass(frozen=True)
class BatchLimits:
    """Per input file: OpenAI allows 50,000 requests and 200 MB."""

    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 * 1024


@dataclass(frozen=True)
class BatchPolling:
    """Seconds between status checks: ``first``, growing by ``factor`` while nothing changes."""

    first: float = 60.0
    longest: float = 600.0
    factor: float = 1.5


class BatchLedger(Protocol):
    """Where submitted batches are recorded the moment they exist (the study's SQLite file)."""

    def add_upload(self, base_url: str, file_id: str, shas: list[str], n_bytes: int, round: int) -> int: ...

    def set_batch(self, local_id: int, batch_id: str, status: str) -> None: ...

    def set_status(self, local_id: int, status: str, output_file_id: str | None = None,
                   error_file_id: str | None = None) -> None: ...

    def set_collected(self, local_id: int) -> None: ...

    def open_batches(self) -> list[BatchRow]: ...

    def rounds(self, sha: str) -> int: ...


class BatchAPI:
    """The Files and Batches endpoints, through an open :class:`OpenAIDescriber`'s client."""

    def __init__(self, describer: OpenAIDescriber, retries: int = 5):
        self.describer = describer
        self.retries = retries
        self.calls: dict[str, int] = {}  # requests by kind, for the benchmark and the tests

    async def upload(self, jsonl: bytes) -> str:
        files = {"file": ("semclust-batch.jsonl", jsonl, "application/jsonl")}
        body = await self._call("upload", "POST", "/files", data={"purpose": "batch"}, files=files)
        return _field(body, "id", "file upload")

    async def create(self, file_id: str) -> dict[str, Any]:
        payload = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h",
                   "metadata": {"created_by": "semclust"}}
        return await self._call("create", "POST", "/batches", json=payload)

    async def retrieve(self, batch_id: str) -> dict[str, Any]:
        return await self._call("retrieve", "GET", f"/batches/{batch_id}")

    async def find_by_input_file(self, file_id: str) -> dict[str, Any] | None:
        """A batch already created from ``file_id`` (a run killed mid-creation), if any."""
        after = None
        for _ in range(50):  # 50 pages of 100: far more batches than one study makes
            params = {"limit": 100, **({"after": after} if after else {})}
            page = await self._call("list", "GET", "/batches", params=params)
            data = page.get("data") or []
            for batch in data:
                if batch.get("input_file_id") == file_id:
                    return batch
            if not page.get("has_more") or not data:
                return None
            after = data[-1].get("id")
        return None

    async def content(self, file_id: str) -> bytes:
        return await self._call("download", "GET", f"/files/{file_id}/content", raw=True)

    async def _call(self, kind: str, method: str, path: str, raw: bool = False, **kwargs) -> Any:
        for attempt in range(self.retries + 1):
            self.calls[kind] = self.calls.get(kind, 0) + 1
            try:
                response = await self.describer.request(method, path, **kwargs)
                return response.content if raw else self.describer._json(response)
            except RetryableError as exc:
                if attempt == self.retries:
                    raise RequestFailedError(f"batch API {kind}: gave up after {attempt + 1} attempts: {exc}") from None
                await asyncio.sleep(exc.retry_after if exc.retry_after is not None
                                    else random.uniform(0, min(30.0, 2.0**attempt)))
        raise AssertionError("unreachable")


def _field(body: Any, name: str, what: str) -> Any:
    if not isinstance(body, dict) or not body.get(name):
        raise MalformedResponseError(f"{what}: no {name!r} in the response: {str(body)[:200]!r}")
    return body[name]


@dataclass
class _Batcher:
    """Everything one batch run shares."""

    api: BatchAPI
    describer: OpenAIDescriber
    prompt: str
    cache: DescriptionCache
    ledger: BatchLedger
    keys: dict[str, DescriptionKey]
    paths: dict[str, str]
    max_side: int | None
    limits: BatchLimits
    max_rounds: int
    budget: Budget | None
    summary: DescribeSummary
    advance: Any  # progress callback
    retry: list[str] = field(default_factory=list)


def describe_in_batches(
    items: Iterable[tuple[str, str | Path]],
    describer: Any,
    prompt: str,
    cache: DescriptionCache,
    ledger: BatchLedger,
    **kwargs: Any,
) -> DescribeSummary:
    """Synchronous :func:`adescribe_in_batches` (same arguments); works inside a running loop too."""
    return run_sync(adescribe_in_batches(items, describer, prompt, cache, ledger, **kwargs))


async def adescribe_in_batches(
    items: Iterable[tuple[str, str | Path]],
    describer: Any,
    prompt: str,
    cache: DescriptionCache,
    ledger: BatchLedger,
    *,
    max_side: int | None = 512,
    budget: Budget | None = None,
    limits: BatchLimits = BatchLimits(),
    polling: BatchPolling = BatchPolling(),
    max_rounds: int = 3,
    progress: bool = True,
    api: BatchAPI | None = None,
) -> DescribeSummary:
    """Describe every image the cache lacks through the batch API; resumes what ``ledger`` holds.

    Returns when every submitted batch has ended and its results are stored. Interrupting
    (Ctrl-C, kill) loses nothing: run again and polling resumes.
    """
    if not isinstance(describer, OpenAIDescriber):
        raise DescriberConfigError(
            f"--batch works with openai: describers (OpenAI's Batch API), not {describer.name}:"
        )
    started = time.perf_counter()
    unique = dict((sha, str(path)) for sha, path in items)
    keys = {sha: description_key(sha, describer, prompt, max_side) for sha in unique}
    stored = cache.get_many(list(keys.values()))
    todo = [sha for sha in unique if keys[sha] not in stored or stored[keys[sha]].status == "failed"]
    await describer.open(4)
    try:
        open_rows = ledger.open_batches()
        in_flight = {sha for row in open_rows for sha in row.shas}
        new = [sha for sha in todo if sha not in in_flight]
        summary = DescribeSummary(requested=len(new) + len(in_flight & set(todo)),
                                  cached=len(unique) - len(todo))
        if budget is not None:
            affordable = [sha for sha in new if budget.reserve()]
            summary.budget_stopped = len(affordable) < len(new)
            new = affordable
        bar = make_progress(TextColumn("{task.fields[stats]}"))
        bar.disable = not enabled(progress)
        with bar:
            task = bar.add_task(f"batch ({describer.name}:{describer.model})",
                                total=len(new) + len(in_flight), stats="submitting")
            run = _Batcher(api or BatchAPI(describer), describer, prompt, cache, ledger, keys,
                           unique, max_side, limits, max_rounds, budget, summary,
                           lambda: bar.update(task, advance=1, stats=summary.stats()))
            for row in open_rows:
                if row.batch_id is None:  # killed between upload and creation: look before creating
                    await _create(run, row.local_id, row.file_id, look_first=True)
            if new:
                await _submit(run, new, round=1)
            await _poll(run, polling, lambda text: bar.update(task, stats=text))
        summary.attempts = sum(run.api.calls.values())
    finally:
        await describer.aclose()
    summary.elapsed = time.perf_counter() - started
    if budget is not None and budget.price is not None:
        summary.cost = budget.spent
    return summary


async def _submit(run: _Batcher, shas: list[str], round: int) -> None:
    """Prepare, write, split, upload and create batches for ``shas``."""
    loop = asyncio.get_running_loop()
    chunk: list[tuple[str, bytes]] = []
    size = 0
    with ThreadPoolExecutor(4, thread_name_prefix="semclust-batch") as pool:
        futures = [loop.run_in_executor(pool, prepare_image, run.paths[sha], run.max_side) for sha in shas]
        for sha, future in zip(shas, futures, strict=True):
            try:
                image = await future
            except ImageReadError as exc:
                _store(run, DescriptionRecord(run.keys[sha], "failed", error=f"unreadable image: {exc}"))
                continue
            line = (json.dumps({"custom_id": sha, "method": "POST", "url": ENDPOINT,
                                "body": run.describer.payload(image.data_url, run.prompt)}) + "\n").encode()
            if len(line) > run.limits.max_bytes:
                _store(run, DescriptionRecord(run.keys[sha], "failed",
                                              error=f"request of {len(line):,} bytes exceeds the batch file limit"))
                continue
            if chunk and (len(chunk) == run.limits.max_requests or size + len(line) > run.limits.max_bytes):
                await _upload(run, chunk, round)
                chunk, size = [], 0
            chunk.append((sha, line))
            size += len(line)
    if chunk:
        await _upload(run, chunk, round)


async def _upload(run: _Batcher, chunk: list[tuple[str, bytes]], round: int) -> None:
    jsonl = b"".join(line for _, line in chunk)
    file_id = await run.api.upload(jsonl)
    local_id = run.ledger.add_upload(run.describer.base_url, file_id, [sha for sha, _ in chunk],
                                     len(jsonl), round)
    await _create(run, local_id, file_id)


async def _create(run: _Batcher, local_id: int, file_id: str, look_first: bool = False) -> None:
    """Create the batch of an uploaded file, unless (``look_first``) the provider has one from it."""
    batch = await run.api.find_by_input_file(file_id) if look_first else None
    if batch is None:
        batch = await run.api.create(file_id)
    run.ledger.set_batch(local_id, _field(batch, "id", "batch creation"), batch.get("status", "validating"))
    log.info("batch %s: %s", batch["id"], batch.get("status"))


async def _poll(run: _Batcher, polling: BatchPolling, show: Any) -> None:
    delay = polling.first
    while rows := run.ledger.open_batches():
        changed = False
        for row in rows:
            batch = await run.api.retrieve(row.batch_id)
            status = batch.get("status", "unknown")
            if status != row.status:
                run.ledger.set_status(row.local_id, status, batch.get("output_file_id"),
                                      batch.get("error_file_id"))
                changed = True
            if status in TERMINAL:
                await _collect(run, row, batch)
                changed = True
        if run.retry:
            retry, run.retry = run.retry, []
            await _submit(run, retry, round=max(r.round for r in rows) + 1)
            continue
        if not run.ledger.open_batches():
            break
        delay = polling.first if changed else min(polling.longest, delay * polling.factor)
        counts = ", ".join(f"{r.batch_id}: {r.status}" for r in run.ledger.open_batches()[:3])
        show(f"waiting {delay:.0f} s ({counts})")
        await asyncio.sleep(delay)


async def _collect(run: _Batcher, row: BatchRow, batch: dict[str, Any]) -> None:
    """Store every answer of an ended batch; queue transient failures for a new batch."""
    outputs = await _lines(run, batch.get("output_file_id"))
    errors = await _lines(run, batch.get("error_file_id"))
    batch_error = _batch_error(batch)
    for sha in row.shas:
        key = run.keys.get(sha) or description_key(sha, run.describer, run.prompt, run.max_side)
        line = outputs.get(sha) or errors.get(sha)
        record, transient = _outcome(key, line, batch.get("status"), batch_error)
        if transient and run.ledger.rounds(sha) < run.max_rounds and sha in run.paths:
            run.retry.append(sha)
            continue
        if transient:
            record.error = f"gave up after {run.ledger.rounds(sha)} batches: {record.error}"
        _store(run, record)
    run.ledger.set_collected(row.local_id)


def _outcome(key: DescriptionKey, line: dict | None, status: str | None,
             batch_error: str | None) -> tuple[DescriptionRecord, bool]:
    """The record for one request of an ended batch, and whether a new batch may help."""
    if line is None:
        if status == "failed":  # the file itself was refused: sending it again would fail again
            return DescriptionRecord(key, "failed", error=f"batch failed: {batch_error}"), False
        return DescriptionRecord(key, "failed", error=f"no answer (batch {status})"), True
    response = line.get("response") or {}
    error = line.get("error") or {}
    code = response.get("status_code")
    if code == 200:
        try:
            description = parse_chat_completion(response.get("body"))
        except RefusalError as exc:
            partial = exc.partial
            return DescriptionRecord(key, "refused", text=partial.text if partial else None,
                                     error=exc.reason), False
        except (MalformedResponseError, RequestFailedError) as exc:
            return DescriptionRecord(key, "failed", error=str(exc)), isinstance(exc, MalformedResponseError)
        extra = dict(description.extra)
        refusal = detect_refusal(description.text)
        return DescriptionRecord(
            key, "refused" if refusal else "ok", text=description.text, error=refusal,
            prompt_tokens=description.prompt_tokens, completion_tokens=description.completion_tokens,
            finish_reason=description.finish_reason or extra.pop("finish_reason", None),
            served_model=description.served_model or extra.pop("served_model", None),
            attempts=1, extra=extra,
        ), False
    body_error = (response.get("body") or {}).get("error") if isinstance(response.get("body"), dict) else None
    message = (error.get("message") or (body_error or {}).get("message")
               or (f"HTTP {code}" if code else "no answer"))
    transient = error.get("code") in RETRYABLE_CODES or code in (408, 429) or (code or 0) >= 500
    return DescriptionRecord(key, "failed", error=f"{error.get('code') or code}: {message}"), transient


def _batch_error(batch: dict[str, Any]) -> str | None:
    errors = (batch.get("errors") or {}).get("data") or []
    return "; ".join(str(e.get("message") or e) for e in errors[:3]) or None


async def _lines(run: _Batcher, file_id: str | None) -> dict[str, dict]:
    """A results file as ``custom_id -> line``; garbled lines are skipped with a warning."""
    if not file_id:
        return {}
    out: dict[str, dict] = {}
    for raw in (await run.api.content(file_id)).splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            out[line["custom_id"]] = line
        except (ValueError, KeyError, TypeError):
            log.warning("skipping a garbled line of batch file %s: %r", file_id, raw[:100])
    return out


def _store(run: _Batcher, record: DescriptionRecord) -> None:
    run.cache.put(record)
    run.summary.add(record)
    if run.budget is not None:
        run.budget.settle(record)
    run.advance()
