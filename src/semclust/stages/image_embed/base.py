"""The image-embedder interface: a batch of images in, one float32 row per image out.

A backend implements only :meth:`ImageEmbedder.embed_images` on decoded images;
:func:`embed_paths` adds file opening, batching and progress, and the study store
adds caching per (embedder name, image sha256) around it by passing only the images
it has not embedded yet. torch is imported only when a torch backend runs, so
importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image
from rich.progress import Progress

from semclust.core.errors import SemclustError
from semclust.core.imageio import ImageReadError, open_image

if TYPE_CHECKING:
    import torch


@runtime_checkable
class ImageEmbedder(Protocol):
    """Maps upright RGB images to vectors.

    ``name`` is the backend spec (e.g. ``"cnn:vgg16"``) plus a weights tag when the
    weights are not the published ones; it is the cache key of the embeddings.
    """

    name: str
    dim: int

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """Return a float32 array of shape ``(len(images), dim)``."""
        ...


@runtime_checkable
class TextImageEmbedder(ImageEmbedder, Protocol):
    """An embedder that also places texts in the same space as images (CLIP)."""

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dim)``."""
        ...


class EmbeddingShapeError(SemclustError):
    """A backend returned vectors of the wrong shape: never pass them on silently."""


def embed_paths(
    embedder: ImageEmbedder,
    paths: Sequence[str | Path],
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Embed image files in order, ``batch_size`` open images at a time.

    Only one batch of decoded images is held in memory, so collections of any size fit.

    Raises
    ------
    ImageReadError
        When a file cannot be decoded; the message starts with its path.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    chunks = [np.empty((0, embedder.dim), dtype=np.float32)]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"Embedding images ({embedder.name})", total=len(paths))
        for start in range(0, len(paths), batch_size):
            batch = [_open(path) for path in paths[start : start + batch_size]]
            chunks.append(_checked(embedder, embedder.embed_images(batch), len(batch)))
            bar.advance(task, len(batch))
    return np.concatenate(chunks)


def _open(path: str | Path) -> Image.Image:
    try:
        return open_image(path)
    except ImageReadError as exc:
        raise ImageReadError(f"{path}: {exc}") from exc


def _checked(embedder: ImageEmbedder, vectors: np.ndarray, n: int) -> np.ndarray:
    if vectors.shape != (n, embedder.dim):
        raise EmbeddingShapeError(
            f"{embedder.name} returned an array of shape {vectors.shape} "
            f"for {n} images; expected ({n}, {embedder.dim})"
        )
    return vectors.astype(np.float32, copy=False)


class TorchImageEmbedder:
    """An :class:`ImageEmbedder` backed by a torch network that outputs features directly.

    Parameters
    ----------
    name
        Cache key of the embeddings (see :class:`ImageEmbedder`).
    network
        Maps a preprocessed batch ``(n, 3, H, W)`` to features ``(n, dim)``.
    preprocess
        Turns one PIL image into a ``(3, H, W)`` tensor (resize, crop, normalise).
    dim
        Number of features ``network`` outputs.
    batch_size
        Images per forward pass; changes speed and memory, not the result.
    device
        torch device, ``"cpu"`` by default.
    """

    def __init__(
        self,
        name: str,
        network: torch.nn.Module,
        preprocess: Callable[[Image.Image], torch.Tensor],
        dim: int,
        batch_size: int = 32,
        device: str = "cpu",
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.name = name
        self.dim = dim
        self.batch_size = batch_size
        self.device = device
        self.preprocess = preprocess
        self.network = network.to(device).eval()

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """Features of ``images`` in eval mode under ``torch.inference_mode``."""
        import torch

        return self._in_batches(
            images,
            lambda chunk: torch.stack([self.preprocess(img) for img in chunk]),
            self._features,
        )

    def _in_batches(
        self,
        items: Sequence[Any],
        prepare: Callable[[Sequence[Any]], Any],
        encode: Callable[[Any], torch.Tensor],
    ) -> np.ndarray:
        """``encode(prepare(chunk))`` for each ``batch_size`` items, on the device under
        ``torch.inference_mode``: one float32 row of ``dim`` per item (images, CLIP's texts)."""
        import torch

        chunks = [np.empty((0, self.dim), dtype=np.float32)]
        for start in range(0, len(items), self.batch_size):
            batch = prepare(items[start : start + self.batch_size])
            with torch.inference_mode():
                features = encode(batch.to(self.device))
            chunks.append(features.float().cpu().numpy())
        return np.concatenate(chunks)

    def _features(self, batch: torch.Tensor) -> torch.Tensor:
        """The network's output; subclasses whose model has several heads pick one here."""
        return self.network(batch)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"
