"""Image embedders: images straight to vectors, without a description in between.

Pick one by spec with :data:`image_embedders`::

    image_embedders.create("cnn:vgg16")                     # Arminio et al.'s CNN baseline
    image_embedders.create("cnn:resnet18-places365")        # Zhang & Leung, scene features
    image_embedders.create("clip:ViT-B-32:openai")          # joint image/text space
    image_embedders.create("finetuned:labels-resnet18.pt")  # Casas et al., see finetune()

Factories accept ``weights`` (a local file, or ``"random"`` for tests; ``finetuned``
reads its weights from the file it names), ``batch_size`` and ``device``. Built-ins
register lazily, so torch, torchvision, timm and open_clip are imported only when a
backend that needs them is created.
"""

from __future__ import annotations

from pathlib import Path

from semclust.core.errors import SemclustError
from semclust.core.lazy import lazy_exports
from semclust.core.registry import Registry

# Pillow and numpy behind .base load on first use: the spec check before a run imports this package
__getattr__, __dir__ = lazy_exports(__name__, {".base": ("ImageEmbedder", "TextImageEmbedder", "embed_paths")})


def check_weights_file(args: str) -> None:
    """``finetuned:FILE`` names a file that exists."""
    if not args or not Path(args).expanduser().is_file():
        raise SemclustError(f"finetuned:FILE needs the weights file that semclust finetune saved; "
                            f"not found: {args!r}")


image_embedders = Registry("image_embedder")
image_embedders.register("cnn", "semclust.stages.image_embed.cnn:create",
                         check="semclust.stages.image_embed.cnn:check_name")
image_embedders.register("clip", "semclust.stages.image_embed.clip:create")
image_embedders.register("finetuned", "semclust.stages.image_embed.finetune:create", check=check_weights_file)

__all__ = ["ImageEmbedder", "TextImageEmbedder", "embed_paths", "image_embedders"]
