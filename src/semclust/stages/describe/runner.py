"""Describing many images: bounded concurrency, retries, a rate limit, and a cache written at once.

Every outcome is ``cache.put()`` the moment it arrives, so Ctrl-C or a crash loses at
most the requests in flight, and a rerun asks only for what the cache lacks.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import Progress, TaskID, TextColumn

from semclust.core.event_loop import run_sync
from semclust.core.imageio import ImageReadError
from semclust.core.progress import enabled, make_progress
from semclust.core.retry import MAX_RETRY_AFTER, RetryPolicy
from semclust.core.store.records import (
    Description,
    DescriptionKey,
    DescriptionRecord,
    Status,
    canonical_params,
)
from semclust.stages.describe.base import Describer, DescriptionCache
from semclust.stages.describe.cost import Budget
from semclust.stages.describe.errors import (
    AllRequestsFailedError,
    AuthenticationError,
    DescribeInterrupted,
    DescriberConfigError,
    RefusalError,
    RequestFailedError,
    RetryableError,
)
from semclust.stages.describe.prepare import Prefetcher, PreparedImage
from semclust.stages.describe.ratelimit import Throttle
from semclust.stages.describe.refusal import detect_refusal

log = logging.getLogger(__name__)

#: Seconds the first Ctrl-C waits for answers in flight (paid for) before giving up on them.
DEFAULT_GRACE = 30.0


@dataclass
class DescribeSummary:
    """What one run did; ``ok``/``failed``/``refused`` count this run's new outcomes only."""

    requested: int = 0  # distinct images that needed the describer (not served from the cache)
    ok: int = 0
    failed: int = 0
    refused: int = 0
    truncated: int = 0  # of the ``ok`` ones: cut off at the token limit (finish_reason "length")
    cached: int = 0  # distinct images whose stored record was reused
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0  # requests sent, retries included
    elapsed: float = 0.0  # seconds
    cost: float | None = None  # estimated USD of this run's answers (None: price unknown)
    budget_stopped: bool = False  # sending stopped because --budget was reached
    reasons: Counter[str] = field(default_factory=Counter)  # why images failed or were refused

    @property
    def stored(self) -> int:
        """Outcomes of this run written to the cache."""
        return self.ok + self.failed + self.refused

    @property
    def left(self) -> int:
        """Images this run was asked for but did not get to (an interrupt)."""
        return self.requested - self.stored

    def add(self, record: DescriptionRecord) -> None:
        setattr(self, record.status, getattr(self, record.status) + 1)
        self.truncated += record.status == "ok" and record.truncated
        if record.status != "ok":
            self.reasons[f"{record.status}: {record.error or 'no reason given'}"] += 1
        self.prompt_tokens += record.prompt_tokens or 0
        self.completion_tokens += record.completion_tokens or 0

    def stats(self) -> str:
        return (
            f"ok {self.ok} · failed {self.failed} · refused {self.refused}"
            f" · truncated {self.truncated} · cached {self.cached}"
            f" · tokens {self.prompt_tokens + self.completion_tokens:,}"
        )

    def describe_reasons(self, limit: int = 5) -> str:
        """The commonest failure and refusal reasons, with counts, one per line."""
        lines = [f"{n} × {reason}" for reason, n in self.reasons.most_common(limit)]
        rest = sum(self.reasons.values()) - sum(n for _, n in self.reasons.most_common(limit))
        return "\n".join(lines + ([f"{rest} × other reasons"] if rest else []))

    def check_any_described(self) -> None:
        """Raise :class:`AllRequestsFailedError` when images were sent and none came back described."""
        if self.requested and not self.ok:
            raise AllRequestsFailedError(
                f"none of the {self.requested} images sent came back described (each is stored "
                f"with its reason; rerun to try again):\n{self.describe_reasons()}",
                self,
            )

    def __str__(self) -> str:
        text = (
            f"{self.requested} images sent ({self.attempts} requests, {self.elapsed:.1f} s), "
            f"{self.cached} reused from the study: {self.ok} described"
            f" ({self.truncated} cut off at the token limit), {self.refused} refused,"
            f" {self.failed} failed; {self.prompt_tokens + self.completion_tokens:,} tokens"
        )
        if self.cost is not None:
            text += f", estimated cost ${self.cost:,.4f}"
        if self.budget_stopped:
            text += f"; budget reached: stopped sending after {self.stored} of {self.requested}"
        return text + (f"; {self.left} left" if self.left else "")


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
    ahead: Prefetcher[DescriptionKey]  # images prepared ahead of the requests
    budget: Budget | None = None
    stopping: bool = False  # Ctrl-C was pressed: send nothing new
    in_flight: int = 0


class _Stopped(Exception):
    """Raised in a worker instead of sending a request after Ctrl-C."""


def describe_images(
    items: Iterable[tuple[str, str | Path]],
    describer: Describer,
    prompt: str,
    cache: DescriptionCache,
    **kwargs,
) -> DescribeSummary:
    """Synchronous :func:`adescribe_images` for the CLI and scripts (same arguments)."""
    return run_sync(adescribe_images(items, describer, prompt, cache, **kwargs))


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
    retry_refused: bool = False,
    retry_truncated: bool = False,
    grace: float = DEFAULT_GRACE,
    progress: bool = True,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    budget: Budget | None = None,
) -> DescribeSummary:
    """Describe every ``(sha256, image_path)`` the cache has no usable record for.

    Parameters
    ----------
    items : iterable of (str, path)
        Images by content hash; repeated hashes are described once.
    describer, prompt, cache
        The backend, the prompt text (see :func:`~semclust.stages.describe.prompts.resolve_prompt`)
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
        Ask again for images whose stored record is ``failed``.
    retry_refused : bool
        Ask again for images the model refused (their stored answer is replaced).
    retry_truncated : bool
        Ask again for answers cut off at the token limit (``finish_reason`` "length").
    grace : float
        On the first Ctrl-C nothing new is sent and the answers in flight (already paid
        for) are awaited and stored for up to this many seconds; a second Ctrl-C quits
        at once.
    progress : bool
        Show a progress bar.
    base_delay, max_delay : float
        Backoff scale in seconds when the server gives no Retry-After.
    budget : Budget, optional
        Meters the estimated spend (shown in the summary) and, with a limit, stops sending
        new requests once the next one could pass it.

    Raises
    ------
    AuthenticationError
        On HTTP 401/403: the run stops, keeping everything described so far.
    DescribeInterrupted
        After Ctrl-C (a ``KeyboardInterrupt``), once the answers in flight are stored.
    """
    _validate(concurrency, max_retries, requests_per_minute, timeout, max_side)
    _require(_is_number(grace) and grace >= 0, "grace", grace, "a number >= 0")
    retry = {"failed": retry_failed, "refused": retry_refused, "truncated": retry_truncated}
    started = time.perf_counter()
    unique = _unique(items)
    keys = {sha: description_key(sha, describer, prompt, max_side) for sha in unique}
    stored = cache.get_many(list(keys.values()))
    todo = deque(
        (keys[sha], str(path))
        for sha, path in unique.items()
        if not _reusable(stored.get(keys[sha]), retry)
    )
    summary = DescribeSummary(requested=len(todo), cached=len(unique) - len(todo))
    stopped = False
    if todo:
        bar = make_progress(TextColumn("{task.fields[stats]}"))
        bar.disable = not enabled(progress)
        with bar:
            task = bar.add_task(
                f"describing ({describer.name}:{describer.model})",
                total=len(todo),
                stats=summary.stats(),
            )
            async with Prefetcher(todo, max_side, depth=2 * concurrency) as ahead:
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
                    ahead=ahead,
                    budget=budget,
                )
                await _run_workers(run, min(concurrency, len(todo)), grace)
            stopped = run.stopping
    summary.elapsed = time.perf_counter() - started
    if stopped:
        raise DescribeInterrupted(
            f"stopped: {summary.stored} stored, {summary.left} left; "
            "run the same command to continue",
            summary,
        )
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


def _reusable(record: DescriptionRecord | None, retry: dict[str, bool]) -> bool:
    """Whether a stored record stands, given which outcomes the user asked to retry."""
    if record is None:
        return False
    if record.status == "ok" and record.truncated:
        return not retry["truncated"]
    return record.status == "ok" or not retry[record.status]


async def _run_workers(run: _Run, workers: int, grace: float) -> None:
    """Run ``workers`` tasks until the queue is empty; the first unexpected error stops them all."""
    await run.describer.open(workers)
    tasks = [asyncio.create_task(_worker(run)) for _ in range(workers)]
    interrupt = _CtrlC(run, tasks, grace)
    try:
        with interrupt:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()
        if interrupt.presses > 1:
            raise DescribeInterrupted(
                f"quit at once: {run.summary.stored} stored, {run.summary.left} left "
                f"(answers in flight were dropped); run the same command to continue",
                run.summary,
            )
    except AuthenticationError as exc:
        raise AuthenticationError(
            f"stopped after {run.summary.stored} of {run.summary.requested} images, "
            f"all of them saved: {exc}"
        ) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await run.describer.aclose()


class _CtrlC:
    """SIGINT while describing: first press drains (grace period), a second one quits.

    Installed on the running loop where the platform allows (Unix, main thread); elsewhere
    Ctrl-C keeps Python's default behaviour.
    """

    def __init__(self, run: _Run, tasks: list[asyncio.Task], grace: float):
        self.run, self.tasks, self.grace = run, tasks, grace
        self.presses = 0
        self._loop = asyncio.get_running_loop()
        self._installed = False
        self._timer: asyncio.TimerHandle | None = None

    def __enter__(self) -> _CtrlC:
        try:
            self._loop.add_signal_handler(signal.SIGINT, self._pressed)
            self._installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # Windows, or not the main thread
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._installed:
            self._loop.remove_signal_handler(signal.SIGINT)

    def _pressed(self) -> None:
        self.presses += 1
        if self.presses == 1:
            self.run.stopping = True
            log.warning(
                "Ctrl-C: sending nothing new; waiting up to %g s for %d answer(s) in flight "
                "(Ctrl-C again to quit at once)", self.grace, self.run.in_flight,
            )
            self._timer = self._loop.call_later(self.grace, self._cancel)
        else:
            self._cancel()

    def _cancel(self) -> None:
        for task in self.tasks:
            task.cancel()


async def _worker(run: _Run) -> None:
    while not run.stopping and (item := await run.ahead.get()) is not None:
        key, path, image = item
        if run.budget is not None and not run.budget.reserve():
            run.summary.budget_stopped = True
            return
        try:
            record = await _describe_one(run, key, image)
        except _Stopped:
            return
        run.cache.put(record)
        run.summary.add(record)
        if run.budget is not None:
            run.budget.settle(record)
            run.summary.cost = run.budget.spent if run.budget.price is not None else None
        run.progress.update(run.task, advance=1, stats=run.summary.stats())
        if record.status != "ok":
            log.warning("%s %s: %s", record.status, path, record.error)


async def _describe_one(
    run: _Run, key: DescriptionKey, image: PreparedImage | ImageReadError
) -> DescriptionRecord:
    """The outcome for one image; only an authentication error escapes."""
    started = time.perf_counter()
    if isinstance(image, ImageReadError):
        return DescriptionRecord(key, "failed", error=f"unreadable image: {image}")
    try:
        description, attempts = await _with_retries(run, image)
    except RefusalError as exc:
        record = _record(key, "refused", exc.partial, exc.reason, started)
        record.attempts = exc.attempts
        return record
    except RequestFailedError as exc:
        return DescriptionRecord(
            key, "failed", error=str(exc), seconds=_since(started), attempts=exc.attempts
        )
    refusal = detect_refusal(description.text)
    record = _record(key, "refused" if refusal else "ok", description, refusal, started)
    record.attempts = attempts
    return record


def _record(
    key: DescriptionKey,
    status: Status,
    description: Description | None,
    error: str | None,
    started: float,
) -> DescriptionRecord:
    description = description or Description(text="")
    extra = dict(description.extra)
    return DescriptionRecord(
        key,
        status,
        text=description.text or None,
        error=error,
        prompt_tokens=description.prompt_tokens,
        completion_tokens=description.completion_tokens,
        seconds=_since(started),
        # backends written before these fields existed put them in ``extra``
        finish_reason=description.finish_reason or extra.pop("finish_reason", None),
        served_model=description.served_model or extra.pop("served_model", None),
        extra=extra,
    )


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


async def _with_retries(run: _Run, image: PreparedImage) -> tuple[Description, int]:
    """Call the describer until it answers, retrying transient errors; returns (answer, attempts)."""
    for retry in itertools.count():
        await run.throttle.acquire()
        if run.stopping:
            raise _Stopped
        run.summary.attempts += 1
        run.in_flight += 1
        try:
            async with asyncio.timeout(run.timeout):
                return await run.describer.describe(image, run.prompt), retry + 1
        except TimeoutError:
            error = RetryableError(f"no complete answer within {run.timeout:g} s")
        except RetryableError as exc:
            error = exc
        except (RequestFailedError, RefusalError) as exc:
            exc.attempts = retry + 1
            raise
        finally:
            run.in_flight -= 1
        if retry == run.policy.max_retries:
            failure = RequestFailedError(f"gave up after {retry + 1} attempts: {error}")
            failure.attempts = retry + 1
            raise failure from error
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
