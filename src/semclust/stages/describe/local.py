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
from typing import Any, ClassVar

from semclust.core.store.records import Description
from semclust.stages.describe.base import check_max_tokens, check_temperature
from semclust.stages.describe.errors import DescriberConfigError
from semclust.stages.describe.prepare import PreparedImage

DTYPES = ("bfloat16", "float16", "float32")
#: New tokens per description unless --max-tokens says otherwise (a paragraph is ~150).
DEFAULT_MAX_NEW_TOKENS = 300

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


class LocalDescriber:
    """What ``hf:`` and ``vllm:`` share: options, cache-key parameters, one load, micro-batched calls.

    A subclass implements ``_load()`` (returns the loaded model, kept for later runs) and
    ``_generate(engine, images, prompts)`` (one batch).
    """

    name: ClassVar[str]
    example_model: ClassVar[str]
    base_url_hint: ClassVar[str]  # what to use instead of --base-url
    supports_images: ClassVar[bool] = True
    needs_key: ClassVar[bool] = False

    def __init__(self, model: str, *, dtype: str | None, max_tokens: int | None,
                 temperature: float | None, top_p: float | None):
        if not model.strip():
            raise DescriberConfigError(f"{self.name} needs a model, e.g. '{self.name}:{self.example_model}'")
        if dtype is not None and dtype not in DTYPES:
            raise DescriberConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if top_p is not None and not 0 < top_p <= 1:
            raise DescriberConfigError(f"{self.name}: top_p must be in (0, 1], got {top_p!r}")
        self.model = model.strip()
        self.dtype = dtype
        self.max_new_tokens = check_max_tokens(self.name, max_tokens) or DEFAULT_MAX_NEW_TOKENS
        self.temperature = check_temperature(self.name, temperature) or None  # 0 means greedy
        self.top_p = top_p
        self.batch_sizes: list[int] = []  # images per generate() call, for logs and tests
        self._engine: Any = None
        self._batcher: MicroBatcher | None = None

    @classmethod
    def from_spec(cls, args: str, **options: Any) -> LocalDescriber:
        """Registry factory; options left at ``None`` take the defaults."""
        if options.pop("base_url", None):
            raise DescriberConfigError(f"{cls.name}: runs the model in this process; {cls.base_url_hint}")
        return cls(args, **{k: v for k, v in options.items() if v is not None})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, dtype={self.dtype!r})"

    def generation_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_new_tokens": self.max_new_tokens,
                                  "do_sample": self.temperature is not None, "dtype": self.dtype or "auto"}
        if self.temperature is not None:
            params.update(temperature=self.temperature, top_p=self.top_p)
        return params

    def batch_size(self, concurrency: int) -> int:
        return concurrency

    async def open(self, concurrency: int) -> None:
        if self._engine is None:
            self._engine = await asyncio.to_thread(self._load)
        await self.aclose()
        self._batcher = MicroBatcher(self.generate, self.batch_size(concurrency))
        self._batcher.start()

    async def aclose(self) -> None:
        if self._batcher is not None:
            await self._batcher.stop()
            self._batcher = None

    async def describe(self, image: PreparedImage, prompt: str) -> Description:
        if self._batcher is None:
            raise RuntimeError(f"{self!r} is not open: await describer.open(concurrency) first")
        return await self._batcher.submit(image, prompt)

    def generate(self, images: Sequence[PreparedImage], prompts: Sequence[str]) -> list[Description]:
        """One batch of descriptions (the runner calls it from a worker thread)."""
        if self._engine is None:
            self._engine = self._load()
        self.batch_sizes.append(len(images))
        return self._generate(self._engine, images, prompts)

    def _load(self) -> Any:
        raise NotImplementedError

    def _generate(self, engine: Any, images: Sequence[PreparedImage], prompts: Sequence[str]) -> list[Description]:
        raise NotImplementedError
