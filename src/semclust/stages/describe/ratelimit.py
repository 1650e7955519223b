"""Spacing requests out: a requests-per-minute limit and a shared pause after Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Throttle:
    """Hands out start times for requests, shared by all workers of one run.

    With ``requests_per_minute`` set, consecutive requests start at least
    ``60 / requests_per_minute`` seconds apart (a token bucket of size one), so no
    window of a minute ever holds more than the limit plus one. :meth:`hold` pauses
    every worker at once, because a provider's Retry-After applies to the key, not to
    the one request that got it.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._clock = clock
        self._next_start = float("-inf")

    async def acquire(self) -> None:
        """Wait until this caller may send its request (reserving a slot needs no lock:
        nothing awaits between reading and moving ``_next_start``)."""
        now = self._clock()
        start = max(now, self._next_start)
        self._next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)

    def hold(self, seconds: float) -> None:
        """Let no request start for ``seconds`` from now."""
        self._next_start = max(self._next_start, self._clock() + seconds)
