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

from semclust.core.errors import MissingModelError, require
from semclust.core.store.records import Description
from semclust.stages.describe.errors import DescriberConfigError
from semclust.stages.describe.hf import missing_model_message
from semclust.stages.describe.local import LocalDescriber
from semclust.stages.describe.prepare import PreparedImage

#: Images handed to the engine at once; vLLM schedules within them itself.
DEFAULT_BATCH = 256


class VLLMDescriber(LocalDescriber):
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
    example_model = "Qwen/Qwen2.5-VL-3B-Instruct"
    base_url_hint = "for a vLLM *server* use openai:MODEL --base-url http://HOST:8000/v1"

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
        if device not in (None, "cuda"):
            raise DescriberConfigError(f"vllm: runs on CUDA GPUs; device {device!r} is not supported")
        super().__init__(model, dtype=dtype, max_tokens=max_tokens, temperature=temperature, top_p=top_p)
        self.engine_options = {"max_model_len": max_model_len,
                               "gpu_memory_utilization": gpu_memory_utilization,
                               "tensor_parallel_size": tensor_parallel_size}
        self.min_batch = batch_size

    def batch_size(self, concurrency: int) -> int:
        return max(concurrency, self.min_batch)

    def _load(self) -> Any:
        vllm = require("vllm", "vllm", "the vllm: describer")
        options = {k: v for k, v in self.engine_options.items() if v is not None}
        try:
            return vllm.LLM(model=self.model, dtype=self.dtype or "auto", seed=0,
                            limit_mm_per_prompt={"image": 1}, **options)
        except OSError as exc:
            raise MissingModelError(missing_model_message(self.model, exc)) from None

    def _generate(self, engine: Any, images: Sequence[PreparedImage], prompts: Sequence[str]) -> list[Description]:
        vllm = require("vllm", "vllm", "the vllm: describer")
        sampling = vllm.SamplingParams(max_tokens=self.max_new_tokens, temperature=self.temperature or 0.0,
                                       **({"top_p": self.top_p} if self.top_p else {}))
        conversations = [
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image.data_url}},
                                          {"type": "text", "text": prompt}]}]
            for image, prompt in zip(images, prompts, strict=True)
        ]
        outputs = engine.chat(conversations, sampling_params=sampling, use_tqdm=False)
        return [_description(output, self.model) for output in outputs]


def _description(output: Any, model: str) -> Description:
    answer = output.outputs[0]
    return Description(text=answer.text.strip(), prompt_tokens=len(output.prompt_token_ids or []),
                       completion_tokens=len(answer.token_ids or []),
                       finish_reason=answer.finish_reason, served_model=model)
