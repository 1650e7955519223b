"""Describe images with a vision LLM: backends by name, prompts, and the cached, concurrent runner.

>>> describer = create_describer("openai:gpt-4o-mini")              # doctest: +SKIP
>>> describe_images(items, describer, resolve_prompt("connotative"), store)  # doctest: +SKIP
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from semclust.core.lazy import lazy_exports
from semclust.core.registry import Registry
from semclust.stages.describe.errors import DescriberConfigError

if TYPE_CHECKING:
    from semclust.stages.describe.base import Describer

# the rest is imported on first use: a spec check before a run (semclust.study.spec_check)
# imports this package for ``describers`` and must not pay for pandas, httpx and Pillow
__getattr__, __dir__ = lazy_exports(__name__, {
    "semclust.core.store.records": ("Description", "DescriptionKey", "DescriptionRecord"),
    ".base": ("Describer", "DescriptionCache", "HTTPDescriber"),
    ".errors": ("AllRequestsFailedError", "AuthenticationError", "DescribeError", "DescribeInterrupted",
                "MalformedResponseError", "RefusalError", "RequestFailedError", "RetryableError"),
    ".prepare": ("PreparedImage",),
    ".prompts": ("DEFAULT_PROMPT", "PRESETS", "resolve_prompt"),
    ".runner": ("DescribeSummary", "adescribe_images", "describe_images", "description_key"),
})


def needs_model(name: str, example: str, args: str) -> None:
    """The check every model backend shares: ``NAME:MODEL`` with a model."""
    if not args.strip():
        raise DescriberConfigError(f"{name} needs a model name, e.g. '{name}:{example}'")


#: Describer backends by name; third-party ones join through the ``semclust.describers``
#: entry-point group. ``column:NAME`` (an input column) and ``none`` (the image route) are
#: resolved by the study, not built here.
describers = Registry("describer", handled_elsewhere=("column", "none"))
describers.register("openai", "semclust.stages.describe.openai_compat:OpenAIDescriber.from_spec",
                    check=partial(needs_model, "openai", "gpt-4o-mini"))
describers.register("ollama", "semclust.stages.describe.ollama:OllamaDescriber.from_spec",
                    check=partial(needs_model, "ollama", "llava"))
describers.register("hf", "semclust.stages.describe.hf:HFDescriber.from_spec",
                    check=partial(needs_model, "hf", "HuggingFaceTB/SmolVLM-256M-Instruct"))
describers.register("vllm", "semclust.stages.describe.vllm_backend:VLLMDescriber.from_spec",
                    check=partial(needs_model, "vllm", "Qwen/Qwen2.5-VL-3B-Instruct"))


def create_describer(spec: str, **options: Any) -> Describer:
    """Build the describer ``spec`` names (``openai:gpt-4o-mini``, ``ollama:llava``).

    A ``base_url`` with several comma-separated URLs gives a :class:`DescriberPool` of
    the same model on each server (``per_server`` caps the requests in flight on each).
    """
    per_server = options.pop("per_server", None)
    urls = [u.strip() for u in (options.get("base_url") or "").split(",") if u.strip()]
    if len(urls) < 2:
        return describers.create(spec, **options)
    from semclust.stages.describe.pool import DescriberPool

    members = [describers.create(spec, **{**options, "base_url": url}) for url in urls]
    return DescriberPool(members, per_server=per_server)


__all__ = [
    "DEFAULT_PROMPT",
    "PRESETS",
    "AllRequestsFailedError",
    "AuthenticationError",
    "DescribeError",
    "DescribeInterrupted",
    "DescribeSummary",
    "Describer",
    "DescriberConfigError",
    "Description",
    "DescriptionCache",
    "DescriptionKey",
    "DescriptionRecord",
    "HTTPDescriber",
    "MalformedResponseError",
    "PreparedImage",
    "RefusalError",
    "RequestFailedError",
    "RetryableError",
    "adescribe_images",
    "create_describer",
    "describe_images",
    "description_key",
    "describers",
    "resolve_prompt",
]
