"""What in-process describers (``hf:``, ``vllm:``) share: device and dtype choice, and micro-batching.

The runner calls :meth:`describe` for one image at a time from ``concurrency`` workers;
a local model is fastest when it generates for many images at once. :class:`MicroBatcher`
collects the requests that are waiting into one batch (up to ``max_batch``), runs the
model in a worker thread (so the event loop keeps preparing the next images), and hands
each caller its own answer. Caching, resume and progress stay the runner's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from .errors import DescriberConfigError
from .prepare import PreparedImage
from .records import Description

DTYPES = ("bfloat16", "float16", "float32")

#: generate(images, prompts) -> one Description per image, in order
BatchFunction = Callable[[Sequence[PreparedImage], Sequence[str]], list[Description]]


def pick_device(requested: str | None) -> str:
    """``requested``, else CUDA, else Apple MPS, else CPU."""
    import torch

    if requested:
        kind = requested.split(":")[0]
        if kind not in ("cuda", "mps", "cpu"):
            raise DescriberConfigError(f"device must be cuda, cuda:N, mps or cpu, got {requested!r}")
        if kind == "cuda" and not torch.cuda.is_available():
            raise DescriberConfigError(f"device {requested!r} asked for, but torch sees no CUDA GPU")
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, requested: str | None) -> str:
    """``requested``, else bfloat16 on GPUs that have it, float16 on other GPUs, float32 on CPU."""
    if requested:
        if requested not in DTYPES:
            raise DescriberConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {requested!r}")
        return requested
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device == "mps" else "float32"


class MicroBatcher:
    """Gather concurrent single-image calls into batches for ``generate`` (see the module docstring)."""

    def __init__(self, generate: BatchFunction, max_batch: int):
        self.generate = generate
        self.max_batch = max(1, max_batch)
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def submit(self, image: PreparedImage, prompt: str) -> Description:
        if self._queue is None:
            raise RuntimeError("the describer is not open: await describer.open(concurrency) first")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((image, prompt, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(0)  # let workers that are about to submit do so
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [item for item in batch if not item[2].cancelled()]
            if not batch:
                continue
            images, prompts = [item[0] for item in batch], [item[1] for item in batch]
            try:
                answers: list[Any] = await asyncio.to_thread(self.generate, images, prompts)
            except Exception as exc:  # noqa: BLE001 (every caller of this batch gets the error)
                answers = [exc] * len(batch)
            for (_, _, future), answer in zip(batch, answers, strict=True):
                if future.done():
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
