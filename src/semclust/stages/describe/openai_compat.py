"""``openai:MODEL``: any OpenAI-compatible chat-completions endpoint.

OpenAI itself, vLLM, Ollama's ``/v1``, LM Studio and the llama.cpp server all speak
this protocol; pick one with the ``base_url`` option. The key is read from the
environment only and is kept out of reprs, logs and error messages.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from semclust.core.store.records import Description
from semclust.stages.describe.base import (
    HTTPDescriber,
    check_max_tokens,
    check_temperature,
    require_text,
)
from semclust.stages.describe.errors import (
    DescriberConfigError,
    MalformedResponseError,
    RefusalError,
)
from semclust.stages.describe.prepare import PreparedImage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
DETAILS = ("low", "high", "auto")


class _Secret:
    """A string that never shows itself in a repr, a traceback's locals or an f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class OpenAIDescriber(HTTPDescriber):
    """Describe images through ``POST {base_url}/chat/completions``.

    Parameters
    ----------
    model : str
        Model name as the server knows it (``gpt-4o-mini``, ``llava:13b``, ...).
    base_url : str
        Endpoint root, ending in ``/v1`` for most servers.
    api_key_env : str, optional
        Environment variable holding the key (default ``OPENAI_API_KEY``). Without a key
        no Authorization header is sent, which local servers accept; the default
        OpenAI endpoint, or naming a variable that is unset, is an error.
    temperature, max_tokens : optional
        Sent only when set: the paper left both at the provider's default, and a token
        cap truncates descriptions mid-sentence.
    detail : {"low", "high", "auto"}, optional
        OpenAI's image detail level; ``"low"`` costs a fixed 85 tokens per image.
    """

    name = "openai"
    example_model = "gpt-4o-mini"
    needs_key = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key_env: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        detail: str | None = None,
    ):
        super().__init__(model, base_url)
        self.api_key_env = api_key_env or DEFAULT_KEY_ENV
        self.temperature = check_temperature(self.name, temperature)
        self.max_tokens = check_max_tokens(self.name, max_tokens)
        if detail is not None and detail not in DETAILS:
            raise DescriberConfigError(f"openai: detail must be one of {DETAILS}, got {detail!r}")
        self.detail = detail
        self._api_key = self._read_key(required=api_key_env is not None or _is_openai(base_url))

    def _read_key(self, required: bool) -> _Secret | None:
        value = os.environ.get(self.api_key_env, "").strip()
        if value:
            return _Secret(value)
        if required:
            raise DescriberConfigError(
                f"openai: no API key; set the environment variable {self.api_key_env} "
                f"(keys are read from the environment only, never from files or options)"
            )
        return None

    def _headers(self) -> dict[str, str]:
        if self._api_key is None:
            return {}
        return {"Authorization": "Bearer " + self._api_key.reveal()}

    def _redact(self, text: str) -> str:
        return text if self._api_key is None else text.replace(self._api_key.reveal(), "***")

    def _hint(self, status: int) -> str:
        if status not in (401, 403):
            return super()._hint(status)
        if self._api_key is None:
            return f"no API key was sent: set the environment variable {self.api_key_env}"
        return f"check the API key in the environment variable {self.api_key_env}"

    def generation_params(self) -> dict[str, Any]:
        params = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "detail": self.detail,
        }
        return {k: v for k, v in params.items() if v is not None}

    async def describe(self, image: PreparedImage, prompt: str) -> Description:
        data = await self._post_json("/chat/completions", self.payload(image.data_url, prompt))
        return parse_chat_completion(data)

    async def complete_text(self, prompt: str) -> str:
        """A text-only chat answer (the cluster namer): the same request without an image."""
        payload: dict[str, Any] = {"model": self.model,
                                   "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]}
        payload.update({k: v for k, v in self.generation_params().items() if k != "detail"})
        return parse_chat_completion(await self._post_json("/chat/completions", payload)).text

    def payload(self, data_url: str, prompt: str) -> dict[str, Any]:
        image_url: dict[str, Any] = {"url": data_url}
        if self.detail is not None:
            image_url["detail"] = self.detail
        content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": image_url}]
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
        }
        if self.temperature is not None:
            payload["temperature"] = self.temperature
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens
        return payload


def parse_chat_completion(data: Any) -> Description:
    """A :class:`Description` from a chat-completions body; refusals raise :class:`RefusalError`."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
        content, refusal = message.get("content"), message.get("refusal")
        finish_reason = choice.get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise MalformedResponseError(
            f"no choices[0].message in the response: {str(data)[:200]!r}"
        ) from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    description = Description(
        text=content if isinstance(content, str) else "",
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        finish_reason=finish_reason,
        served_model=data.get("model"),
    )
    if refusal:
        raise RefusalError(f"model refused: {refusal}", description)
    if finish_reason == "content_filter":
        raise RefusalError("provider's content filter blocked the answer", description)
    if content is not None and not isinstance(content, str):
        raise MalformedResponseError(f"message.content is not a string: {content!r:.200}")
    require_text(description.text, finish_reason)
    return description


def _is_openai(base_url: str) -> bool:
    return urlsplit(base_url).hostname == "api.openai.com"
