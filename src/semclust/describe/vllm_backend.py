"""``vllm:MODEL``: vLLM's offline batched engine in this process, the fastest way to describe on a GPU node.

The engine is loaded once (weights from the local Hugging Face cache or a folder, never
downloaded while describing) and receives the images waiting in the runner as one batch
of chat requests (``LLM.chat``), which vLLM schedules with continuous batching and paged
attention. Same interface, cache keys and summary as every other describer. Install with
``pip install 'semclust[vllm]'`` on a machine with a CUDA GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MissingModelError, require
from .base import check_max_tokens, check_temperature
from .errors import DescriberConfigError
from .hf import DEFAULT_MAX_NEW_TOKENS, missing_model_message
from .local import DTYPES, MicroBatcher
from .prepare import PreparedImage
from .records import Description

#: Images handed to the engine at once; vLLM schedules within them itself.
DEFAULT_BATCH = 256


class VLLMDescriber:
    """Describe images with ``vllm.LLM`` (offline inference).

    Parameters
    ----------
    model : str
        A Hugging Face model id in the local cache, or a folder.
    dtype : str, optional
        ``bfloat16``, ``float16`` or ``float32`` (default: vLLM's choice for the model).
    max_tokens, temperature, top_p : optional
        As for ``hf:``; greedy decoding by default.
    max_model_len : int, optional
        Context length to reserve memory for (smaller fits bigger batches).
    gpu_memory_utilization : float
        Share of GPU memory vLLM may take (default 0.9).
    tensor_parallel_size : int
        GPUs to split the model over.
    batch_size : int
        Images handed to the engine per call (the run's concurrency if larger).
    """

    name = "vllm"
    supports_images = True
    needs_key = False

    def __init__(
        self,
        model: str,
        *,
        dtype: str | None = None,
        device: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        batch_size: int = DEFAULT_BATCH,
    ):
        if not model.strip():
            raise DescriberConfigError("vllm needs a model, e.g. 'vllm:Qwen/Qwen2.5-VL-3B-Instruct'")
        if dtype is not None and dtype not in DTYPES:
            raise DescriberConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if device not in (None, "cuda"):
            raise DescriberConfigError(f"vllm: runs on CUDA GPUs; device {device!r} is not supported")
        self.model = model.strip()
        self.dtype = dtype
        self.max_new_tokens = check_max_tokens(self.name, max_tokens) or DEFAULT_MAX_NEW_TOKENS
        self.temperature = check_temperature(self.name, temperature) or None
        self.top_p = top_p
        self.engine_options = {"max_model_len": max_model_len,
                               "gpu_memory_utilization": gpu_memory_utilization,
                               "tensor_parallel_size": tensor_parallel_size}
        self.batch_size = batch_size
        self._llm: Any = None
        self._batcher: MicroBatcher | None = None

    @classmethod
    def from_spec(cls, args: str, **options: Any) -> VLLMDescriber:
        if options.get("base_url"):
            raise DescriberConfigError(
                "vllm: runs the engine in this process; for a vLLM *server* use "
                "openai:MODEL --base-url http://HOST:8000/v1"
            )
        options.pop("base_url", None)
        return cls(args, **{k: v for k, v in options.items() if v is not None})

    def __repr__(self) -> str:
        return f"VLLMDescriber(model={self.model!r})"

    def generation_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_new_tokens": self.max_new_tokens,
                                  "do_sample": self.temperature is not None, "dtype": self.dtype or "auto"}
        if self.temperature is not None:
            params.update(temperature=self.temperature, top_p=self.top_p)
        return params

    async def open(self, concurrency: int) -> None:
        import asyncio

        if self._llm is None:
            self._llm = await asyncio.to_thread(self._load)
        await self.aclose()
        self._batcher = MicroBatcher(self.generate, max(concurrency, self.batch_size))
        self._batcher.start()

    async def aclose(self) -> None:
        if self._batcher is not None:
            await self._batcher.stop()
            self._batcher = None

    async def describe(self, image: PreparedImage, prompt: str) -> Description:
        if self._batcher is None:
            raise RuntimeError(f"{self!r} is not open: await describer.open(concurrency) first")
        return await self._batcher.submit(image, prompt)

    def _load(self) -> Any:
        vllm = require("vllm", "vllm", "the vllm: describer")
        options = {k: v for k, v in self.engine_options.items() if v is not None}
        try:
            return vllm.LLM(model=self.model, dtype=self.dtype or "auto", seed=0,
                            limit_mm_per_prompt={"image": 1}, **options)
        except OSError as exc:
            raise MissingModelError(missing_model_message(self.model, exc)) from None

    def generate(self, images: Sequence[PreparedImage], prompts: Sequence[str]) -> list[Description]:
        """One batch through the engine (runs in a worker thread)."""
        vllm = require("vllm", "vllm", "the vllm: describer")
        if self._llm is None:
            self._llm = self._load()
        sampling = vllm.SamplingParams(max_tokens=self.max_new_tokens, temperature=self.temperature or 0.0,
                                       **({"top_p": self.top_p} if self.top_p else {}))
        conversations = [
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image.data_url}},
                                          {"type": "text", "text": prompt}]}]
            for image, prompt in zip(images, prompts, strict=True)
        ]
        outputs = self._llm.chat(conversations, sampling_params=sampling, use_tqdm=False)
        return [_description(output, self.model) for output in outputs]


def _description(output: Any, model: str) -> Description:
    answer = output.outputs[0]
    return Description(text=answer.text.strip(), prompt_tokens=len(output.prompt_token_ids or []),
                       completion_tokens=len(answer.token_ids or []),
                       finish_reason=answer.finish_reason, served_model=model)
