"""Pretrained CNN features: the denotative baseline of Arminio et al. and Casas et al.

``cnn:NAME`` embeds each image as the penultimate-layer activations of an ImageNet
(or Places365) classifier: what the network "sees" just before naming an object.

=====================  ==========================  =====  =========================
spec                   network                     dim    weights file
=====================  ==========================  =====  =========================
cnn:vgg16              torchvision VGG16, fc7      4096   vgg16-397923af.pth
cnn:resnet50           torchvision ResNet-50       2048   resnet50-0676ba61.pth
cnn:resnet18           torchvision ResNet-18       512    resnet18-f37072fd.pth
cnn:resnet18-places365 ResNet-18, Places365        512    resnet18_places365.pth.tar
cnn:xception           timm legacy_xception        2048   xception-43020ad28.pth
=====================  ==========================  =====  =========================

The ImageNet files are the ``IMAGENET1K_V1`` weights, under the names torchvision
gives them; VGG16 fc7 is taken after its ReLU, as Keras' ``fc2`` layer outputs it.
``legacy_xception`` is timm's port of the Keras Xception weights the paper used.
Images are resized and centre-cropped as each network was evaluated: shorter side
256 then 224 x 224 with ImageNet mean/std (Xception: 333 then 299 x 299, scaled to
[-1, 1]). Where the files are looked up is described in :mod:`.weights`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semclust.core.errors import UnknownBackendError, require
from semclust.stages.image_embed import places365
from semclust.stages.image_embed.base import TorchImageEmbedder
from semclust.stages.image_embed.weights import (
    RANDOM,
    WeightFile,
    load_into,
    read_state_dict,
    resolve_weights,
    seeded,
    weights_tag,
)

if TYPE_CHECKING:
    import torch

#: Standard ImageNet evaluation: resize the shorter side to 256, centre-crop 224.
RESIZE_RATIO = 256 / 224
#: timm's name for the Keras Xception weights.
XCEPTION = "legacy_xception.tf_in1k"

Preprocess = Callable[[Any], "torch.Tensor"]


@dataclass(frozen=True)
class Architecture:
    """How to build one CNN, where its classifier sits and which weights it expects.

    Parameters
    ----------
    build
        Returns the network with random weights and its original classifier.
    head
        Dotted path of the final classifier layer (an ``nn.Linear``), replaced by an
        identity to expose the penultimate features, or by a new layer to fine-tune.
    weight_file
        The published weights.
    preprocess
        ``preprocess(image_size)`` returns the image transform; ``None`` means the
        network's own evaluation size.
    read_weights
        Reads the parameters from a weights file.
    """

    build: Callable[[], torch.nn.Module]
    head: str
    weight_file: WeightFile
    preprocess: Callable[[int | None], Preprocess]
    read_weights: Callable[[Path], Mapping[str, Any]] = read_state_dict


def _torchvision(name: str, head: str, **build_kwargs: Any) -> Architecture:
    torchvision = require("torchvision", "cnn", "CNN image embeddings")
    published = torchvision.models.get_model_weights(name)["IMAGENET1K_V1"]
    fetch = f"python -c \"import torchvision; torchvision.models.{name}(weights='IMAGENET1K_V1')\""
    return Architecture(
        build=partial(torchvision.models.get_model, name, weights=None, **build_kwargs),
        head=head,
        weight_file=WeightFile(
            filename=published.url.rsplit("/", 1)[-1],
            url=published.url,
            fetch_command=fetch,
            torch_hub=True,
        ),
        preprocess=partial(_imagenet_preprocess, published),
    )


def _imagenet_preprocess(published: Any, image_size: int | None) -> Preprocess:
    if image_size is None:
        return published.transforms()
    return published.transforms(crop_size=image_size, resize_size=round(image_size * RESIZE_RATIO))


def _places365() -> Architecture:
    imagenet = _torchvision("resnet18", "fc")
    return Architecture(
        build=places365.build_model,
        head="fc",
        weight_file=places365.WEIGHT_FILE,
        preprocess=imagenet.preprocess,
        read_weights=places365.read_checkpoint,
    )


def _xception() -> Architecture:
    timm = require("timm", "cnn", "Xception image embeddings")
    cfg = timm.models.get_pretrained_cfg(XCEPTION)
    fetch = f"python -c \"import timm; timm.create_model('{XCEPTION}', pretrained=True)\""
    return Architecture(
        build=partial(timm.create_model, "legacy_xception", pretrained=False),
        head="fc",
        weight_file=WeightFile(
            filename=cfg.url.rsplit("/", 1)[-1],
            url=cfg.url,
            fetch_command=fetch,
            torch_hub=True,
        ),
        preprocess=partial(_timm_preprocess, cfg.to_dict()),
    )


def _timm_preprocess(pretrained_cfg: dict[str, Any], image_size: int | None) -> Preprocess:
    timm = require("timm", "cnn", "Xception image embeddings")
    data = timm.data.resolve_data_config(pretrained_cfg=pretrained_cfg)
    if image_size is not None:
        data["input_size"] = (3, image_size, image_size)
    return timm.data.create_transform(**data)


ARCHITECTURES: dict[str, Callable[[], Architecture]] = {
    "vgg16": partial(_torchvision, "vgg16", "classifier.6"),
    "resnet50": partial(_torchvision, "resnet50", "fc"),
    "resnet18": partial(_torchvision, "resnet18", "fc"),
    "resnet18-places365": _places365,
    "xception": _xception,
}


def check_name(name: str) -> None:
    """``cnn:NAME`` names a known architecture (imports nothing heavy: the registry's check)."""
    if name not in ARCHITECTURES:
        known = ", ".join(f"cnn:{known}" for known in ARCHITECTURES)
        close = difflib.get_close_matches(name, list(ARCHITECTURES), n=1)
        hint = f" (did you mean 'cnn:{close[0]}'?)" if close else ""
        raise UnknownBackendError(f"unknown CNN 'cnn:{name}'{hint}; known: {known}")


def architecture(name: str) -> Architecture:
    """The :class:`Architecture` called ``name`` (a key of :data:`ARCHITECTURES`)."""
    check_name(name)
    return ARCHITECTURES[name]()


def build_network(
    spec: str, arch: Architecture, weights: str | Path | None
) -> tuple[torch.nn.Module, str]:
    """The network with its classifier and the weights ``weights`` selects.

    Returns the model and the tag that :func:`.weights.weights_tag` adds to the name.
    """
    if weights == RANDOM:
        return seeded(arch.build), weights_tag(weights, None)
    path = resolve_weights(spec, arch.weight_file, weights)
    state = arch.read_weights(path)
    model = seeded(arch.build)
    load_into(model, state, path, spec)
    return model, weights_tag(weights, path)


def feature_network(model: torch.nn.Module, head: str) -> tuple[torch.nn.Module, int]:
    """Replace the classifier at ``head`` by an identity; return the model and feature size."""
    nn = require("torch.nn", "cnn", "CNN image embeddings")
    dim = model.get_submodule(head).in_features
    model.set_submodule(head, nn.Identity())
    return model, dim


def feature_embedder(
    name: str,
    model: torch.nn.Module,
    arch: Architecture,
    image_size: int | None,
    *,
    batch_size: int,
    device: str,
) -> TorchImageEmbedder:
    """``model``'s penultimate features as an embedder, images prepared as ``arch``
    prepares them at ``image_size`` (``None``: the network's own size)."""
    network, dim = feature_network(model, arch.head)
    return TorchImageEmbedder(
        name, network, arch.preprocess(image_size), dim, batch_size=batch_size, device=device
    )


def create(
    args: str,
    *,
    weights: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
) -> TorchImageEmbedder:
    """Factory for ``cnn:NAME``.

    Parameters
    ----------
    args
        The architecture, e.g. ``"vgg16"`` or ``"resnet18-places365"``.
    weights
        ``None`` looks up the published weights file (see the module docstring); a path
        loads that file (a state dict ``.pth``/``.pt``/``.safetensors`` or a training
        checkpoint); ``"random"`` is a seeded random network, for tests only.
    batch_size, device
        Passed to :class:`~.base.TorchImageEmbedder`.
    """
    name = args.strip().lower()
    arch = architecture(name)
    spec = f"cnn:{name}"
    model, tag = build_network(spec, arch, weights)
    return feature_embedder(spec + tag, model, arch, None, batch_size=batch_size, device=device)
