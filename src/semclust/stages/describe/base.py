"""The describer interface: one image in, one paragraph out.

A backend implements only :meth:`Describer.describe` for a single image; batching,
concurrency, retries, rate limits, deadlines, caching and progress live in
:mod:`semclust.stages.describe.runner`, so every backend gets them for free.
:class:`HTTPDescriber` holds what the JSON-over-HTTP backends share.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from semclust.core.store.records import (
    Description,
    DescriptionKey,
    DescriptionRecord,
)
from semclust.stages.describe.errors import (
    DescriberConfigError,
    MalformedResponseError,
    RequestFailedError,
    RetryableError,
    error_for_status,
)
from semclust.stages.describe.prepare import PreparedImage

#: Connections per httpx client of an HTTP describer (see :meth:`HTTPDescriber.open`).
CONNECTIONS_PER_CLIENT = 8


@runtime_checkable
class DescriptionCache(Protocol):
    """Where descriptions are written the moment they arrive (the study's SQLite store)."""

    def get_many(self, keys: list[DescriptionKey]) -> dict[DescriptionKey, DescriptionRecord]: ...

    def put(self, record: DescriptionRecord) -> None: ...


class Describer(Protocol):
    """A vision-LLM backend. ``name`` and ``model`` go into the cache key."""

    name: str
    model: str
    supports_images: bool
    needs_key: bool

    def generation_params(self) -> dict[str, Any]:
        """Parameters that change the output (temperature, max_tokens, ...): part of the cache key."""
        ...

    async def open(self, concurrency: int) -> None:
        """Get ready for up to ``concurrency`` simultaneous calls (e.g. size a connection pool)."""
        ...

    async def describe(self, image: PreparedImage, prompt: str) -> Description:
        """Describe one prepared image; raise a :mod:`semclust.stages.describe.errors` error on failure."""
        ...

    async def aclose(self) -> None:
        """Release what :meth:`open` acquired; :meth:`open` may be called again afterwards."""
        ...


class HTTPDescriber:
    """Shared plumbing of JSON-over-HTTP backends: options, one pooled client, error mapping.

    The clients live from :meth:`open` to :meth:`aclose` (one set per event loop, so a
    describer can serve several ``asyncio.run`` calls) and have no timeout of their own:
    the runner puts one deadline on each whole attempt.
    """

    name: ClassVar[str]
    example_model: ClassVar[str]
    supports_images: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False

    def __init__(self, model: str, base_url: str):
        if not base_url.startswith(("http://", "https://")):
            raise DescriberConfigError(
                f"{self.name}: base_url must start with http:// or https://, got {base_url!r}"
            )
        self.model = model
        self.base_url = base_url.rstrip("/")
        self._clients: list[httpx.AsyncClient] = []
        self._turn = 0

    @classmethod
    def from_spec(cls, args: str, **options: Any) -> HTTPDescriber:
        """Registry factory: ``args`` is the model name; ``None`` options mean "the default"."""
        model = args.strip()
        if not model:
            raise DescriberConfigError(
                f"{cls.name} needs a model name, e.g. '{cls.name}:{cls.example_model}'"
            )
        known = cls.option_names()
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise DescriberConfigError(
                f"unknown option(s) {', '.join(map(repr, unknown))} for describer {cls.name!r}; "
                f"known: {', '.join(known)}"
            )
        return cls(model, **{k: v for k, v in options.items() if v is not None})

    @classmethod
    def option_names(cls) -> list[str]:
        """The keyword options :meth:`from_spec` accepts: ``__init__``'s keyword-only parameters."""
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    def _headers(self) -> dict[str, str]:
        return {}

    def _redact(self, text: str) -> str:
        """Scrub secrets from text that may end up in an error message."""
        return text

    def _hint(self, status: int) -> str:
        """What the user can do about an HTTP error ``status`` (empty when nothing to add)."""
        if status == 404:
            return f"is {self.base_url} the right base_url, and does it serve model {self.model!r}?"
        return ""

    async def open(self, concurrency: int) -> None:
        """One httpx client per :data:`CONNECTIONS_PER_CLIENT` connections, used in turn.

        httpcore's pool checks every connection it holds each time it places a request
        (a readability syscall per idle connection), so its cost per request grows with
        the pool; several small pools keep it flat at 32 or 64 requests in flight.
        """
        await self.aclose()
        shards = max(1, math.ceil(concurrency / CONNECTIONS_PER_CLIENT))
        size = math.ceil(concurrency / shards)
        self._clients = [
            httpx.AsyncClient(
                headers=self._headers(),
                timeout=httpx.Timeout(None),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for _ in range(shards)
        ]

    async def aclose(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    async def _post_json(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` and return the decoded JSON, or raise the matching describe error."""
        return self._json(await self.request("POST", path, json=payload))

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            excerpt = self._redact(response.text[:200])
            raise MalformedResponseError(f"response is not JSON: {excerpt!r}") from None

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (httpx keyword arguments) and return the response, or raise the
        matching describe error (retryable, failed, authentication)."""
        if not self._clients:
            raise RuntimeError(f"{self!r} is not open: await describer.open(concurrency) first")
        self._turn = (self._turn + 1) % len(self._clients)
        url = f"{self.base_url}{path}"
        try:
            response = await self._clients[self._turn].request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timed out talking to {url}: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise RetryableError(
                f"connection error with {url}: {str(exc) or type(exc).__name__}"
            ) from None
        if response.status_code >= 400:
            message = self._redact(_api_error_message(response))
            status = response.status_code
            raise error_for_status(status, message, response.headers, self._hint(status)) from None
        return response


def check_temperature(name: str, value: float | None) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise DescriberConfigError(f"{name}: temperature must be a number, got {value!r}")
    if value is not None and not 0 <= value <= 2:
        raise DescriberConfigError(f"{name}: temperature must be between 0 and 2, got {value!r}")
    return value


def check_max_tokens(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise DescriberConfigError(f"{name}: max_tokens must be a positive integer, got {value!r}")
    return value


def require_text(text: str, finish_reason: str | None) -> None:
    """Reject an empty answer: retryable, unless the token budget ran out (retrying won't help)."""
    if text.strip():
        return
    if finish_reason == "length":
        raise RequestFailedError("empty answer: max_tokens was used up (finish_reason='length')")
    raise MalformedResponseError(f"empty answer (finish_reason={finish_reason!r})")


def _api_error_message(response: httpx.Response) -> str:
    """The API's own error text: OpenAI's ``{"error": {"message"}}``, Ollama's ``{"error"}``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return str(error)[:300] if error else response.text[:300].strip()
