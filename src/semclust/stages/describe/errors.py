"""What can go wrong when describing an image, sorted by what the runner does about it.

- :class:`RetryableError`: wait (Retry-After, or jittered backoff) and try again;
- :class:`RequestFailedError`: record the image as ``failed`` and move on;
- :class:`RefusalError`: record the image as ``refused`` and move on;
- :class:`AuthenticationError`: stop the whole run, since every request would fail;
- :class:`DescriberConfigError`: raised before any request is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from semclust.core.errors import SemclustError
from semclust.core.retry import parse_retry_after

if TYPE_CHECKING:
    from semclust.core.store.records import Description

#: Statuses that are worth another try: rate limits, overload, server errors, proxies timing out.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


class DescriberConfigError(SemclustError, ValueError):
    """A describer, prompt or runner setting is wrong (unknown option, missing key, bad value)."""


class DescribeError(SemclustError):
    """A request to describe one image did not produce a description."""

    attempts: int | None = None  # requests sent for the image before giving up (set by the runner)


class RetryableError(DescribeError):
    """A transient failure (429, 5xx, timeout, dropped connection, garbled reply)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class MalformedResponseError(RetryableError):
    """The server answered, but not with the JSON the protocol promises."""


class RequestFailedError(DescribeError):
    """The request was rejected for this image (400, 404, 413, ...): retrying will not help."""


class RefusalError(DescribeError):
    """The model or the provider's filter declined to describe the image."""

    def __init__(self, reason: str, partial: Description | None = None):
        super().__init__(reason)
        self.reason = reason
        self.partial = partial  # text and tokens of the refusal, which were paid for


class AuthenticationError(SemclustError):
    """401/403: the key is missing, wrong or lacks access, so the run is stopped."""


class AllRequestsFailedError(SemclustError):
    """Images were sent and not one came back described; ``summary`` (the runner's
    ``DescribeSummary``, not imported here: the runner imports this module) says why."""

    def __init__(self, message: str, summary: object):
        super().__init__(message)
        self.summary = summary


class DescribeInterrupted(KeyboardInterrupt):
    """Ctrl-C while describing, raised once the answers in flight were stored.

    A ``KeyboardInterrupt``, so code that handles Ctrl-C keeps working; ``summary``
    counts what was stored and what is left.
    """

    def __init__(self, message: str, summary: object):
        super().__init__(message)
        self.summary = summary


def error_for_status(
    status: int, message: str, headers: Mapping[str, str], hint: str = ""
) -> Exception:
    """The exception for an HTTP error ``status``; ``message`` must already be redacted."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    text = f"{text} ({hint})" if hint else text
    if status in (401, 403):
        return AuthenticationError(text)
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(text, retry_after=parse_retry_after(headers))
    return RequestFailedError(text)
