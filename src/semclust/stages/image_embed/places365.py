"""ResNet-18 trained on Places365 scenes (Zhang & Leung, section 4.2).

Scene-trained features suit protest and street imagery better than object-trained
ones. The published CSAIL checkpoint ``resnet18_places365.pth.tar`` is a training
checkpoint: a dict whose ``"state_dict"`` was saved from ``nn.DataParallel`` (every key
starts with ``module.``) for a standard ResNet-18 with 365 outputs, so it loads into
``torchvision.models.resnet18(num_classes=365)`` once unwrapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from semclust.core.errors import require
from semclust.stages.image_embed.weights import WeightFile, WeightsError, read_state_dict

if TYPE_CHECKING:
    import torch

NUM_CLASSES = 365
URL = "http://places2.csail.mit.edu/models_places365/resnet18_places365.pth.tar"
WEIGHT_FILE = WeightFile(
    filename="resnet18_places365.pth.tar",
    url=URL,
    fetch_command=f"wget {URL}",
)


def build_model() -> torch.nn.Module:
    """A randomly initialised torchvision ResNet-18 with the Places365 head."""
    torchvision = require("torchvision", "cnn", "Places365 image embeddings")
    return torchvision.models.resnet18(weights=None, num_classes=NUM_CLASSES)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The ResNet-18 parameters of a CSAIL Places365 checkpoint, ``module.`` prefix removed.

    Raises
    ------
    WeightsError
        When the file's classifier does not have 365 outputs (another checkpoint,
        e.g. the ImageNet ResNet-18 or the CSAIL ``wideresnet18``).
    """
    state = read_state_dict(path)
    fc = state.get("fc.weight")
    if fc is None or fc.shape[0] != NUM_CLASSES:
        found = "no 'fc.weight'" if fc is None else f"{fc.shape[0]} classes"
        raise WeightsError(
            f"{path} is not a Places365 ResNet-18 checkpoint: expected {NUM_CLASSES} "
            f"classes, found {found}"
        )
    return state
