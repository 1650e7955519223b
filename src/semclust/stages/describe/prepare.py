"""Turning image files into the JPEGs a describer sends, ahead of the requests that need them.

Describing is network-bound, so reading images must never hold the requests back. Two
things keep it off the critical path: JPEGs are decoded at reduced size where the format
allows (Pillow's draft mode lets the decoder skip detail the downscale throws away), and
a :class:`Prefetcher` prepares images in a thread pool (Pillow releases the GIL while it
decodes, resizes and encodes) *while* earlier requests are in flight, so a request never
waits for its image. Every backend receives the same :class:`PreparedImage`: HTTP
backends send its bytes as they are, in-process models decode them back into pixels.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Generic, TypeVar

from PIL import Image

from semclust.core.imageio import ImageReadError, jpeg_bytes, open_image

JPEG_QUALITY = 85
K = TypeVar("K")


@dataclass(frozen=True)
class PreparedImage:
    """One image ready to send: upright RGB, downscaled, JPEG-encoded."""

    jpeg: bytes
    width: int
    height: int

    @cached_property
    def base64(self) -> str:
        return base64.b64encode(self.jpeg).decode("ascii")

    @property
    def data_url(self) -> str:
        return "data:image/jpeg;base64," + self.base64

    def to_pil(self) -> Image.Image:
        """The pixels again, for in-process models."""
        with Image.open(io.BytesIO(self.jpeg)) as img:
            return img.convert("RGB")

    @classmethod
    def from_pil(cls, image: Image.Image) -> PreparedImage:
        rgb = image.convert("RGB")
        return cls(jpeg_bytes(rgb, JPEG_QUALITY), rgb.width, rgb.height)


def prepare_image(path: str | Path, max_side: int | None) -> PreparedImage:
    """Read ``path`` safely (see :func:`~semclust.core.imageio.open_image`) into a :class:`PreparedImage`.

    Bicubic rather than Lanczos: indistinguishable to a model at a few hundred pixels, and
    a third cheaper, which matters at 64 requests a second on a small machine.
    """
    image = open_image(path, draft_side=max_side)
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    prepared = PreparedImage.from_pil(image)
    prepared.base64  # noqa: B018 (encoded here, in the worker thread, not on the event loop)
    return prepared


class Prefetcher(Generic[K]):
    """Prepare ``(key, path)`` items in threads, at most ``depth`` ahead of their consumers.

    ``async with Prefetcher(items, max_side, depth) as ahead:`` then ``await ahead.get()``
    returns ``(key, path, PreparedImage | ImageReadError)``, or ``None`` once all are out.
    """

    def __init__(
        self,
        items: deque[tuple[K, str]],
        max_side: int | None,
        depth: int,
        threads: int | None = None,
    ):
        self.items = items
        self.max_side = max_side
        self.threads = threads or max(1, min(8, (os.cpu_count() or 1) + 1))
        self._ready: asyncio.Queue = asyncio.Queue(maxsize=max(1, depth))
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task] = []
        self._running = 0

    async def __aenter__(self) -> Prefetcher[K]:
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="semclust-prepare")
        self._running = self.threads
        self._tasks = [asyncio.create_task(self._prepare_loop()) for _ in range(self.threads)]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def get(self) -> tuple[K, str, PreparedImage | ImageReadError] | None:
        item = await self._ready.get()
        if item is None:
            self._ready.put_nowait(None)  # let the other consumers see the end too
        return item

    async def _prepare_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self.items:
            key, path = self.items.popleft()
            try:
                image = await loop.run_in_executor(
                    self._executor, prepare_image, path, self.max_side
                )
            except ImageReadError as exc:
                image = exc
            except Exception as exc:  # noqa: BLE001 (e.g. MemoryError: record it, keep going)
                image = ImageReadError(f"could not prepare the image: {exc!r}")
            await self._ready.put((key, path, image))
        self._running -= 1
        if self._running == 0:
            await self._ready.put(None)
