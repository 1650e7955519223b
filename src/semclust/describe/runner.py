"""Describing many images: bounded concurrency, retries, a rate limit, and a cache written at once.

Every outcome is ``cache.put()`` the moment it arrives, so Ctrl-C or a crash loses at
most the requests in flight, and a rerun asks only for what the cache lacks.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.progress import Progress, TaskID, TextColumn

from ..errors import SemclustError
from ..imageio import ImageReadError, downscale, open_image
from ..progress import enabled, make_progress
from .base import Describer, DescriptionCache
from .errors import (
    AuthenticationError,
    DescriberConfigError,
    RefusalError,
    RequestFailedError,
    RetryableError,
)
from .ratelimit import Throttle
from .records import Description, DescriptionKey, DescriptionRecord, Status, canonical_params
from .refusal import detect_refusal

log = logging.getLogger(__name__)

#: A Retry-After longer than this (seconds) is cut short: a misconfigured proxy must not stall a run.
MAX_RETRY_AFTER = 600.0


@dataclass
class DescribeSummary:
    """What one run did; ``ok``/``failed``/``refused`` count this run's new outcomes only."""

    requested: int = 0  # distinct images that needed the describer (not served from the cache)
    ok: int = 0
    failed: int = 0
    refused: int = 0
    cached: int = 0  # distinct images whose stored record was reused
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0  # requests sent, retries included
    elapsed: float = 0.0  # seconds

    def add(self, record: DescriptionRecord) -> None:
        setattr(self, record.status, getattr(self, record.status) + 1)
        self.prompt_tokens += record.prompt_tokens or 0
        self.completion_tokens += record.completion_tokens or 0

    def stats(self) -> str:
        return (
            f"ok {self.ok} · failed {self.failed} · refused {self.refused} · cached {self.cached}"
            f" · tokens {self.prompt_tokens + self.completion_tokens:,}"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (delay ~ U(0, min(max_delay, base_delay * 2**n)))."""

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry: int) -> float:
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2**retry))


def description_key(
    sha256: str, describer: Describer, prompt: str, max_side: int | None
) -> DescriptionKey:
    """The cache key of one image's description; the pipeline uses it to read descriptions back."""
    params = {**describer.generation_params(), "max_side": max_side}
    return DescriptionKey(sha256, describer.name, describer.model, prompt, canonical_params(params))


@dataclass
class _Run:
    """Everything the workers of one run share."""

    describer: Describer
    prompt: str
    cache: DescriptionCache
    policy: RetryPolicy
    throttle: Throttle
    timeout: float
    max_side: int | None
    summary: DescribeSummary
    progress: Progress
    task: TaskID
    pending: deque[tuple[DescriptionKey, str]]


def describe_images(
    items: Iterable[tuple[str, str | Path]],
    describer: Describer,
    prompt: str,
    cache: DescriptionCache,
    **kwargs,
) -> DescribeSummary:
    """Synchronous :func:`adescribe_images` for the CLI and scripts (same arguments)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(adescribe_images(items, describer, prompt, cache, **kwargs))
    raise SemclustError(
        "describe_images() cannot run inside an event loop (e.g. Jupyter); "
        "use `await adescribe_images(...)` there"
    )


async def adescribe_images(
    items: Iterable[tuple[str, str | Path]],
    describer: Describer,
    prompt: str,
    cache: DescriptionCache,
    *,
    concurrency: int = 8,
    max_retries: int = 5,
    requests_per_minute: float | None = None,
    timeout: float = 60.0,
    max_side: int | None = 512,
    retry_failed: bool = True,
    progress: bool = True,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
) -> DescribeSummary:
    """Describe every ``(sha256, image_path)`` the cache has no usable record for.

    Parameters
    ----------
    items : iterable of (str, path)
        Images by content hash; repeated hashes are described once.
    describer, prompt, cache
        The backend, the prompt text (see :func:`~semclust.describe.prompts.resolve_prompt`)
        and where records go (the study store).
    concurrency : int
        Requests in flight at once.
    max_retries : int
        Extra attempts after a 429, 5xx, timeout, dropped connection or garbled reply.
    requests_per_minute : float, optional
        Start requests no closer than ``60 / requests_per_minute`` seconds apart.
    timeout : float
        Deadline in seconds for one attempt, from sending to the full answer.
    max_side : int, optional
        Downscale so the longest side is at most this many pixels before sending (cost
        control); part of the cache key. ``None`` sends the full image.
    retry_failed : bool
        Ask again for images whose stored record is ``failed`` (``ok`` and ``refused``
        records are always reused).
    progress : bool
        Show a progress bar.
    base_delay, max_delay : float
        Backoff scale in seconds when the server gives no Retry-After.

    Raises
    ------
    AuthenticationError
        On HTTP 401/403: the run stops, keeping everything described so far.
    """
    _validate(concurrency, max_retries, requests_per_minute, timeout, max_side)
    started = time.perf_counter()
    unique = _unique(items)
    keys = {sha: description_key(sha, describer, prompt, max_side) for sha in unique}
    stored = cache.get_many(list(keys.values()))
    todo = deque(
        (keys[sha], str(path))
        for sha, path in unique.items()
        if not _reusable(stored.get(keys[sha]), retry_failed)
    )
    summary = DescribeSummary(requested=len(todo), cached=len(unique) - len(todo))
    if todo:
        bar = make_progress(TextColumn("{task.fields[stats]}"))
        bar.disable = not enabled(progress)
        with bar:
            task = bar.add_task(
                f"describing ({describer.name}:{describer.model})",
                total=len(todo),
                stats=summary.stats(),
            )
            run = _Run(
                describer=describer,
                prompt=prompt,
                cache=cache,
                policy=RetryPolicy(max_retries, base_delay, max_delay),
                throttle=Throttle(requests_per_minute),
                timeout=timeout,
                max_side=max_side,
                summary=summary,
                progress=bar,
                task=task,
                pending=todo,
            )
            await _run_workers(run, min(concurrency, len(todo)))
    summary.elapsed = time.perf_counter() - started
    log.info(
        "described %d images in %.1f s: %s", summary.requested, summary.elapsed, summary.stats()
    )
    return summary


def _validate(
    concurrency: int,
    max_retries: int,
    requests_per_minute: float | None,
    timeout: float,
    max_side: int | None,
) -> None:
    _require(
        _is_int(concurrency) and concurrency >= 1, "concurrency", concurrency, "an integer >= 1"
    )
    _require(
        _is_int(max_retries) and max_retries >= 0, "max_retries", max_retries, "an integer >= 0"
    )
    _require(
        requests_per_minute is None or _is_number(requests_per_minute) and requests_per_minute > 0,
        "requests_per_minute",
        requests_per_minute,
        "a positive number or None",
    )
    _require(_is_number(timeout) and timeout > 0, "timeout", timeout, "a positive number")
    _require(
        max_side is None or _is_int(max_side) and max_side >= 1,
        "max_side",
        max_side,
        "a positive integer or None",
    )


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise DescriberConfigError(f"{name} must be {expected}, got {value!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unique(items: Iterable[tuple[str, str | Path]]) -> dict[str, str | Path]:
    """First path per content hash (the caller de-duplicates already; this makes sure)."""
    unique: dict[str, str | Path] = {}
    for position, item in enumerate(items):
        try:
            sha, path = item
        except (TypeError, ValueError):
            raise DescriberConfigError(
                f"item {position} must be a (sha256, image_path) pair, got {item!r}"
            ) from None
        if not isinstance(sha, str) or not sha:
            raise DescriberConfigError(f"item {position} has no sha256: {item!r}")
        unique.setdefault(sha, path)
    return unique


def _reusable(record: DescriptionRecord | None, retry_failed: bool) -> bool:
    return record is not None and (record.status != "failed" or not retry_failed)


async def _run_workers(run: _Run, workers: int) -> None:
    """Run ``workers`` tasks until the queue is empty; the first unexpected error stops them all."""
    await run.describer.open(workers)
    tasks = [asyncio.create_task(_worker(run)) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    except AuthenticationError as exc:
        done = run.summary.ok + run.summary.failed + run.summary.refused
        raise AuthenticationError(
            f"stopped after {done} of {run.summary.requested} images, all of them saved: {exc}"
        ) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await run.describer.aclose()


async def _worker(run: _Run) -> None:
    while run.pending:
        key, path = run.pending.popleft()
        record = await _describe_one(run, key, path)
        run.cache.put(record)
        run.summary.add(record)
        run.progress.update(run.task, advance=1, stats=run.summary.stats())
        if record.status != "ok":
            log.warning("%s %s: %s", record.status, path, record.error)


async def _describe_one(run: _Run, key: DescriptionKey, path: str) -> DescriptionRecord:
    """The outcome for one image; only an authentication error escapes."""
    started = time.perf_counter()
    try:
        image = await asyncio.to_thread(_load, path, run.max_side)
    except ImageReadError as exc:
        return DescriptionRecord(key, "failed", error=f"unreadable image: {exc}")
    try:
        description, attempts = await _with_retries(run, image)
    except RefusalError as exc:
        return _record(key, "refused", exc.partial, exc.reason, started)
    except RequestFailedError as exc:
        return DescriptionRecord(key, "failed", error=str(exc), seconds=_since(started))
    refusal = detect_refusal(description.text)
    record = _record(key, "refused" if refusal else "ok", description, refusal, started)
    record.extra["attempts"] = attempts
    return record


def _load(path: str, max_side: int | None) -> Image.Image:
    return downscale(open_image(path), max_side)


def _record(
    key: DescriptionKey,
    status: Status,
    description: Description | None,
    error: str | None,
    started: float,
) -> DescriptionRecord:
    description = description or Description(text="")
    return DescriptionRecord(
        key,
        status,
        text=description.text or None,
        error=error,
        prompt_tokens=description.prompt_tokens,
        completion_tokens=description.completion_tokens,
        seconds=_since(started),
        extra=dict(description.extra),
    )


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


async def _with_retries(run: _Run, image: Image.Image) -> tuple[Description, int]:
    """Call the describer until it answers, retrying transient errors; returns (answer, attempts)."""
    for retry in itertools.count():
        await run.throttle.acquire()
        run.summary.attempts += 1
        try:
            async with asyncio.timeout(run.timeout):
                return await run.describer.describe(image, run.prompt), retry + 1
        except TimeoutError:
            error = RetryableError(f"no complete answer within {run.timeout:g} s")
        except RetryableError as exc:
            error = exc
        if retry == run.policy.max_retries:
            raise RequestFailedError(f"gave up after {retry + 1} attempts: {error}") from error
        await _back_off(run, retry, error)


async def _back_off(run: _Run, retry: int, error: RetryableError) -> None:
    """Honour the server's Retry-After for every worker, else sleep a jittered backoff."""
    if error.retry_after is not None:
        log.info("retrying in %.1f s as the server asked: %s", error.retry_after, error)
        run.throttle.hold(min(error.retry_after, MAX_RETRY_AFTER))
    else:
        delay = run.policy.delay(retry)
        log.info("retrying in %.2f s: %s", delay, error)
        await asyncio.sleep(delay)
