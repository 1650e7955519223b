"""CLIP: images and texts in one space (Zhang & Leung, section 3.3, "joint embedding").

``clip:MODEL[:TAG]`` names an open_clip architecture and, optionally, its pretrained
tag (``clip:ViT-B-32:openai``, ``clip:ViT-B-32:laion2b_s34b_b79k``; OpenAI's spelling
``ViT-B/32`` is accepted too). Without a tag the OpenAI weights are used where
open_clip has them, else the model's first listed tag. Image and text vectors are
L2-normalised, so their dot product is CLIP's similarity. (Zhang & Leung's
1024-dimensional vector per image-text pair is, presumably, ViT-B-32's 512-dimensional
image and text vectors side by side.)

The weights file is looked up as ``$SEMCLUST_HOME/weights/open_clip_MODEL_TAG.safetensors``
(or ``.bin``/``.pt`` as published), then in the Hugging Face cache where
``open_clip.create_model(MODEL, pretrained=TAG)`` stores it; see :mod:`.weights`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from semclust.core.errors import UnknownBackendError, require
from semclust.stages.image_embed.base import TorchImageEmbedder
from semclust.stages.image_embed.weights import (
    RANDOM,
    WeightFile,
    WeightsError,
    resolve_weights,
    seeded,
    weights_tag,
)

if TYPE_CHECKING:
    import torch

#: The tag chosen when the spec names none (the weights Radford et al. released).
DEFAULT_TAG = "openai"


class ClipEmbedder(TorchImageEmbedder):
    """An image embedder whose :meth:`embed_texts` lands in the same space."""

    def __init__(self, name: str, model: Any, preprocess: Any, tokenizer: Any, dim: int, **kw):
        super().__init__(name, model, preprocess, dim, **kw)
        self.tokenizer = tokenizer

    def _features(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network.encode_image(batch, normalize=True)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """L2-normalised text embeddings, float32 ``(len(texts), dim)``."""
        return self._in_batches(
            texts,
            lambda chunk: self.tokenizer(list(chunk)),
            lambda tokens: self.network.encode_text(tokens, normalize=True),
        )


def _parse(args: str, open_clip: Any) -> tuple[str, str]:
    """``"ViT-B-32:openai"`` -> ``("ViT-B-32", "openai")``, with the default tag filled in."""
    model_name, _, tag = args.strip().partition(":")
    model_name = model_name.replace("/", "-")  # OpenAI's clip package says "ViT-B/32"
    if model_name not in open_clip.list_models():
        raise UnknownBackendError(
            f"unknown CLIP model 'clip:{model_name}'; open_clip.list_models() has them all, "
            "e.g. clip:ViT-B-32, clip:ViT-B-16, clip:ViT-L-14"
        )
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if tag and tag not in tags:
        known = ", ".join(tags) or "none"
        raise UnknownBackendError(
            f"unknown pretrained tag 'clip:{model_name}:{tag}'; known for {model_name}: {known}"
        )
    if not tag and tags:
        tag = DEFAULT_TAG if DEFAULT_TAG in tags else tags[0]
    return model_name, tag


def weight_file(model_name: str, tag: str, pretrained_cfg: dict[str, Any]) -> WeightFile:
    """Where open_clip publishes and caches the weights of ``model_name`` / ``tag``."""
    repo, hf_name = os.path.split(pretrained_cfg["hf_hub"])
    hf_name = hf_name or "open_clip_pytorch_model.bin"
    names = (
        (_safetensors_name(hf_name), hf_name) if hf_name.endswith((".bin", ".pth")) else (hf_name,)
    )
    preferred = names[0]
    return WeightFile(
        filename=f"open_clip_{model_name}_{tag}{Path(preferred).suffix}",
        url=f"https://huggingface.co/{repo}/resolve/main/{preferred}",
        fetch_command=(
            f"python -c \"import open_clip; open_clip.create_model('{model_name}', "
            f"pretrained='{tag}')\""
        ),
        hf_repo=repo,
        hf_filenames=names,
    )


def _safetensors_name(filename: str) -> str:
    """open_clip's name for the safetensors twin of a pickled checkpoint on the Hub."""
    if filename == "open_clip_pytorch_model.bin":
        return "open_clip_model.safetensors"
    return filename[:-4] + ".safetensors"


def create(
    args: str,
    *,
    weights: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
) -> ClipEmbedder:
    """Factory for ``clip:MODEL[:TAG]``.

    Parameters
    ----------
    args
        ``MODEL`` or ``MODEL:TAG`` as open_clip names them.
    weights
        ``None`` looks up the published weights of the tag; a path loads that
        checkpoint (open_clip's loader); ``"random"`` is a seeded random model, for
        tests only.
    batch_size, device
        Passed to :class:`~.base.TorchImageEmbedder`; ``batch_size`` also batches texts.
    """
    open_clip = require("open_clip", "clip", "CLIP embeddings")
    model_name, tag = _parse(args, open_clip)
    spec = f"clip:{model_name}:{tag}" if tag else f"clip:{model_name}"
    cfg = open_clip.get_pretrained_cfg(model_name, tag) if tag else {}
    path = None
    if weights != RANDOM:
        published = weight_file(model_name, tag, cfg) if tag else None
        path = resolve_weights(spec, published, weights)
    model, preprocess = _build(open_clip, model_name, path, cfg)
    return ClipEmbedder(
        spec + weights_tag(weights, path),
        model,
        preprocess,
        open_clip.get_tokenizer(model_name),
        open_clip.get_model_config(model_name)["embed_dim"],
        batch_size=batch_size,
        device=device,
    )


def _build(open_clip: Any, model_name: str, path: Path | None, cfg: dict[str, Any]):
    """The model and its eval transform, preprocessing set as the tag was trained with.

    open_clip takes the tag's mean, std and activation from its registry only when it
    downloads by tag; loading a file, they are passed here explicitly.
    """
    try:
        model, _, preprocess = seeded(
            lambda: open_clip.create_model_and_transforms(
                model_name,
                pretrained=None if path is None else str(path),
                force_quick_gelu=cfg.get("quick_gelu", False),
                image_mean=cfg.get("mean"),
                image_std=cfg.get("std"),
                image_interpolation=cfg.get("interpolation"),
                image_resize_mode=cfg.get("resize_mode"),
            )
        )
    except RuntimeError as exc:  # open_clip's strict load_state_dict on a mismatched file
        raise WeightsError(f"weights file {path} does not fit clip:{model_name}: {exc}") from exc
    return model, preprocess
