"""Several servers with the same model as one describer: a pool of vLLM or Ollama servers on an HPC cluster.

Each request goes to the healthy server with the lowest load (requests in flight over its
concurrency). A server that fails ``max_failures`` times in a row is taken out for
``cooldown`` seconds and the request is tried on another server at once; when every
server is out, the runner's retry and backoff take over. Descriptions are cached under the
model's name, not the server's, since any server of the pool gives the same model.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from semclust.core.store.records import Description
from semclust.stages.describe.base import Describer
from semclust.stages.describe.errors import DescriberConfigError, RetryableError
from semclust.stages.describe.prepare import PreparedImage

log = logging.getLogger(__name__)


@dataclass
class _Server:
    describer: Describer
    label: str
    capacity: int = 1
    in_flight: int = 0
    failures: int = 0  # consecutive
    out_until: float = 0.0
    sent: int = 0
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    @property
    def load(self) -> float:
        return self.in_flight / self.capacity

    def healthy(self, now: float) -> bool:
        return now >= self.out_until


class DescriberPool:
    """Spread one model's requests over several servers (see the module docstring).

    Parameters
    ----------
    members : sequence of Describer
        The same backend and model on different servers.
    per_server : int, optional
        Requests in flight per server (default: the run's concurrency split evenly).
    max_failures : int
        Consecutive retryable failures (timeouts, 5xx, 429, dropped connections) that take
        a server out.
    cooldown : float
        Seconds a server stays out before it gets requests again.
    """

    def __init__(
        self,
        members: Sequence[Describer],
        *,
        per_server: int | None = None,
        max_failures: int = 3,
        cooldown: float = 30.0,
    ):
        if len(members) < 2:
            raise DescriberConfigError("a server pool needs at least two base URLs")
        first = members[0]
        for other in members[1:]:
            if (other.name, other.model, other.generation_params()) != (
                first.name, first.model, first.generation_params()
            ):
                raise DescriberConfigError("every server of a pool must run the same model and settings")
        if per_server is not None and per_server < 1:
            raise DescriberConfigError(f"per_server must be >= 1, got {per_server!r}")
        self.name, self.model = first.name, first.model
        self.supports_images, self.needs_key = first.supports_images, first.needs_key
        self.per_server = per_server
        self.max_failures, self.cooldown = max_failures, cooldown
        self.servers = [_Server(m, getattr(m, "base_url", repr(m))) for m in members]

    def __repr__(self) -> str:
        return f"DescriberPool({', '.join(s.label for s in self.servers)})"

    def generation_params(self) -> dict[str, Any]:
        return self.servers[0].describer.generation_params()

    async def open(self, concurrency: int) -> None:
        capacity = self.per_server or max(1, math.ceil(concurrency / len(self.servers)))
        for server in self.servers:
            server.capacity, server.in_flight, server.slots = capacity, 0, asyncio.Semaphore(capacity)
            await server.describer.open(capacity)

    async def aclose(self) -> None:
        for server in self.servers:
            await server.describer.aclose()

    def stats(self) -> list[dict[str, Any]]:
        """Requests sent and state per server (for logs and tests)."""
        now = time.monotonic()
        return [{"server": s.label, "sent": s.sent, "out": not s.healthy(now)} for s in self.servers]

    async def describe(self, image: PreparedImage, prompt: str) -> Description:
        tried: set[int] = set()
        while True:
            server = self._pick(tried)
            tried.add(id(server))
            try:
                description = await self._send(server, image, prompt)
            except RetryableError as exc:
                self._failed(server, exc)
                if len(tried) == len(self.servers) or self._pick(tried, strict=True) is None:
                    raise
                continue
            server.failures = 0
            description.extra["server"] = server.label
            return description

    def _pick(self, tried: set[int], strict: bool = False) -> _Server | None:
        """The least-loaded healthy server not yet tried; if all are out, the one back soonest."""
        now = time.monotonic()
        fresh = [s for s in self.servers if id(s) not in tried]
        healthy = [s for s in fresh if s.healthy(now)]
        if healthy:
            return min(healthy, key=lambda s: (s.load, s.sent))
        if strict:
            return None
        if not fresh:
            fresh = self.servers
        soonest = min(fresh, key=lambda s: s.out_until)
        wait = soonest.out_until - now
        raise RetryableError(f"every server of the pool is out after repeated failures; "
                             f"the first is back in {wait:.0f} s", retry_after=max(wait, 0.0))

    async def _send(self, server: _Server, image: PreparedImage, prompt: str) -> Description:
        server.in_flight += 1  # counted while waiting for a slot, so the next pick goes elsewhere
        try:
            async with server.slots:
                server.sent += 1
                return await server.describer.describe(image, prompt)
        finally:
            server.in_flight -= 1

    def _failed(self, server: _Server, error: RetryableError) -> None:
        server.failures += 1
        if server.failures >= self.max_failures and server.healthy(time.monotonic()):
            server.out_until = time.monotonic() + self.cooldown
            log.warning("server %s taken out for %g s after %d failures in a row: %s",
                        server.label, self.cooldown, server.failures, error)
