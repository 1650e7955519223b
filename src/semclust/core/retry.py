"""Retrying HTTP calls to paid or rate-limited services (describers, embedding APIs) the same way."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

#: A Retry-After longer than this (seconds) is cut short: a misconfigured proxy must not stall a run.
MAX_RETRY_AFTER = 600.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (delay ~ U(0, min(max_delay, base_delay * 2**n)))."""

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, retry: int) -> float:
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2**retry))


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or HTTP date).

    ``headers`` must look names up case-insensitively (``httpx.Headers`` does).
    Unparseable values give ``None`` so the caller falls back to its own backoff.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
