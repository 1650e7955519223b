"""``ollama:MODEL``: a local Ollama server through its native ``/api/chat`` endpoint.

(Ollama also serves the OpenAI protocol under ``/v1``, usable with ``openai:MODEL`` and
``base_url=http://localhost:11434/v1``; the native API reports token counts reliably
and takes generation options in Ollama's own names.)
"""

from __future__ import annotations

from typing import Any

from semclust.core.store.records import Description
from semclust.stages.describe.base import (
    HTTPDescriber,
    check_max_tokens,
    check_temperature,
    require_text,
)
from semclust.stages.describe.errors import MalformedResponseError
from semclust.stages.describe.prepare import PreparedImage

DEFAULT_BASE_URL = "http://localhost:11434"


class OllamaDescriber(HTTPDescriber):
    """Describe images through ``POST {base_url}/api/chat`` (no streaming).

    Parameters
    ----------
    model : str
        A vision model pulled into Ollama (``llava``, ``llama3.2-vision``, ``qwen2.5vl``).
    base_url : str
        Server root (default ``http://localhost:11434``).
    temperature : float, optional
        Sent as ``options.temperature`` when set.
    max_tokens : int, optional
        Sent as ``options.num_predict`` when set (same name as for ``openai:``).
    """

    name = "ollama"
    example_model = "llava"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ):
        super().__init__(model, base_url)
        self.temperature = check_temperature(self.name, temperature)
        self.max_tokens = check_max_tokens(self.name, max_tokens)

    def _options(self) -> dict[str, Any]:
        options = {"temperature": self.temperature, "num_predict": self.max_tokens}
        return {k: v for k, v in options.items() if v is not None}

    def generation_params(self) -> dict[str, Any]:
        return self._options()

    async def describe(self, image: PreparedImage, prompt: str) -> Description:
        image_b64 = image.base64
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt, "images": [image_b64]}],
            "stream": False,
        }
        if options := self._options():
            payload["options"] = options
        return parse_chat_response(await self._post_json("/api/chat", payload))

    async def complete_text(self, prompt: str) -> str:
        """A text-only chat answer (the cluster namer), in this server's own protocol."""
        payload: dict[str, Any] = {"model": self.model, "stream": False,
                                   "messages": [{"role": "user", "content": prompt}]}
        if options := self._options():
            payload["options"] = options
        return parse_chat_response(await self._post_json("/api/chat", payload)).text


def parse_chat_response(data: Any) -> Description:
    """A :class:`Description` from a non-streamed ``/api/chat`` body."""
    try:
        content = data["message"]["content"]
    except (KeyError, TypeError):
        raise MalformedResponseError(
            f"no message.content in the response: {str(data)[:200]!r}"
        ) from None
    if not isinstance(content, str):
        raise MalformedResponseError(f"message.content is not a string: {content!r:.200}")
    done_reason = data.get("done_reason")
    require_text(content, done_reason)
    return Description(
        text=content,
        prompt_tokens=data.get("prompt_eval_count"),
        completion_tokens=data.get("eval_count"),
        finish_reason=done_reason,
        served_model=data.get("model"),
    )
