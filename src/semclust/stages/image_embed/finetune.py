"""Fine-tuned multi-label CNN embeddings (Casas et al., section 2.2).

An ImageNet CNN groups images by the objects in them. Retraining it to predict a few
features a researcher cares about (emotions, children, symbols of collective identity)
pulls its penultimate layer towards those features, so clusters follow them too.

:func:`finetune` reads a CSV with an ``image`` column and K binary label columns,
replaces the network's last layer by K sigmoid outputs (multi-task, labels need not be
exclusive), trains with binary cross-entropy and SGD, and saves one file holding the
base architecture, the trained parameters and the label names. ``finetuned:PATH``
then embeds images with the penultimate features of that network.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.progress import Progress

from semclust.core.errors import MissingModelError, SemclustError, require
from semclust.core.imageio import ImageReadError, open_image
from semclust.core.registry import split_spec
from semclust.stages.image_embed.base import TorchImageEmbedder
from semclust.stages.image_embed.cnn import (
    Architecture,
    architecture,
    build_network,
    feature_embedder,
)
from semclust.stages.image_embed.weights import WeightsError, file_fingerprint, load_into, seeded

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

#: Marks a file written by :func:`finetune`, so another checkpoint is not mistaken for one.
FORMAT = "semclust-finetuned-cnn"
#: SGD momentum: the usual value for fine-tuning image classifiers.
MOMENTUM = 0.9
#: Columns that identify a row rather than label it.
ID_COLUMNS = ("image", "id")


class LabelFileError(SemclustError, ValueError):
    """The labelled-images CSV cannot be used for fine-tuning."""


def read_labels(
    csv_path: str | Path, labels: Sequence[str] | None = None
) -> tuple[list[Path], list[str], np.ndarray]:
    """Image paths, label names and the 0/1 label matrix of a labelled-images CSV.

    Relative image paths are taken relative to the CSV's folder. Without ``labels``,
    every column except ``image`` and ``id`` is a label.

    Raises
    ------
    LabelFileError
        When the ``image`` column or a label column is missing, or a label value is
        not 0/1 (the message names the row and column).
    """
    csv_path = Path(csv_path)
    table = pd.read_csv(csv_path)
    if "image" not in table.columns:
        raise LabelFileError(f"{csv_path} has no 'image' column (columns: {list(table.columns)})")
    names = (
        list(labels) if labels is not None else [c for c in table.columns if c not in ID_COLUMNS]
    )
    missing = [name for name in names if name not in table.columns]
    if missing or not names:
        raise LabelFileError(f"{csv_path}: label columns {missing or names} not found")
    if len(table) < 2:
        raise LabelFileError(f"{csv_path} has {len(table)} labelled images; need at least 2")
    matrix = np.column_stack([_binary(table[name], name, csv_path) for name in names])
    paths = [_image_path(value, row, csv_path) for row, value in enumerate(table["image"])]
    return paths, names, matrix.astype(np.float32)


def _binary(column: pd.Series, name: str, csv_path: Path) -> np.ndarray:
    values = column.map(lambda v: {"true": 1, "false": 0}.get(str(v).strip().lower(), v))
    numeric = pd.to_numeric(values, errors="coerce")
    bad = ~numeric.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise LabelFileError(
            f"{csv_path}, data row {row + 1}, column '{name}': label must be 0 or 1, "
            f"got '{column.iloc[row]}'"
        )
    if numeric.nunique() < 2:
        logger.warning("label %r has the same value for every image: it teaches nothing", name)
    return numeric.to_numpy()


def _image_path(value: Any, row: int, csv_path: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise LabelFileError(f"{csv_path}, data row {row + 1}: empty 'image' path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else csv_path.parent / path


def finetune(
    csv_path: str | Path,
    *,
    out_path: str | Path,
    base: str = "cnn:resnet18",
    epochs: int = 50,
    lr: float = 0.005,
    batch_size: int = 32,
    weights: str | Path | None = None,
    seed: int = 0,
    image_size: int | None = None,
    labels: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Fine-tune ``base`` to predict the CSV's binary labels; save and return ``out_path``.

    Parameters
    ----------
    csv_path
        CSV with an ``image`` column and one 0/1 column per label (see :func:`read_labels`).
    out_path
        Where to write the fine-tuned network (``torch.save``); use it as ``finetuned:PATH``.
    base
        A ``cnn:`` spec; Casas et al. used ``cnn:resnet18``.
    epochs, lr
        Passes over the labelled images and SGD learning rate; Casas et al. trained 50
        iterations with rates 0.005 and 0.01.
    batch_size
        Images per SGD step.
    weights
        Starting weights of ``base``, as for ``cnn:`` (``None`` = the published ones).
    seed
        Seeds the new layer, the shuffling and dropout, so a rerun on the same machine
        reproduces the network.
    image_size
        Train (and later embed) at this square size instead of the network's own,
        e.g. 128 to fine-tune on a CPU quickly.
    labels
        Label columns to use; default all columns except ``image`` and ``id``.
    progress
        Show a progress bar.
    """
    torch = require("torch", "cnn", "Fine-tuning")
    _check_training_params(epochs, lr, batch_size, image_size)
    family, arch_name = split_spec(base)
    if family != "cnn":
        raise SemclustError(f"fine-tuning needs a 'cnn:' base network, got {base!r}")
    arch = architecture(arch_name)
    spec = f"cnn:{arch_name}"
    paths, names, targets = read_labels(csv_path, labels)
    inputs = _preprocess_all(paths, arch.preprocess(image_size))
    model, base_tag = build_network(spec, arch, weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _replace_head(model, arch, len(names))
        losses = _train(
            model, inputs, torch.from_numpy(targets), epochs, lr, batch_size, seed, progress
        )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": FORMAT,
            "base": spec,
            "base_weights": base_tag,
            "labels": names,
            "image_size": image_size,
            "epochs": epochs,
            "lr": lr,
            "seed": seed,
            "losses": losses,
            "state_dict": model.state_dict(),
        },
        out_path,
    )
    logger.info("saved fine-tuned %s (%d labels) to %s", spec, len(names), out_path)
    return out_path


def _check_training_params(epochs: int, lr: float, batch_size: int, image_size: int | None) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 32):
        raise ValueError(f"image_size must be an integer of at least 32, got {image_size!r}")


def _preprocess_all(paths: list[Path], preprocess: Any) -> torch.Tensor:
    """All training images, preprocessed once (the set is small: hundreds of images)."""
    import torch

    tensors = []
    for row, path in enumerate(paths):
        try:
            tensors.append(preprocess(open_image(path)))
        except ImageReadError as exc:
            raise LabelFileError(f"data row {row + 1}, image {path}: {exc}") from exc
    return torch.stack(tensors)


def _replace_head(model: torch.nn.Module, arch: Architecture, n_labels: int) -> None:
    """Put a fresh ``n_labels``-output layer where the classifier was."""
    nn = require("torch.nn", "cnn", "Fine-tuning")
    old = model.get_submodule(arch.head)
    model.set_submodule(arch.head, nn.Linear(old.in_features, n_labels))


def _train(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool,
) -> list[float]:
    """SGD on the sum of per-label binary cross-entropies; returns the mean loss per epoch."""
    import torch

    data = torch.utils.data.TensorDataset(inputs, targets)
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    criterion = torch.nn.BCEWithLogitsLoss()
    model.train()
    losses = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("Fine-tuning", total=epochs)
        for epoch in range(epochs):
            total = 0.0
            for batch, target in loader:
                optimizer.zero_grad()
                loss = criterion(model(batch), target)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            losses.append(total / len(data))
            logger.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, losses[-1])
            bar.advance(task)
    model.eval()
    return losses


def read_finetuned(path: str | Path) -> dict[str, Any]:
    """The contents of a file written by :func:`finetune`.

    Raises
    ------
    MissingModelError
        When the file does not exist.
    WeightsError
        When it is not a fine-tuned network file.
    """
    torch = require("torch", "cnn", "Fine-tuned image embeddings")
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingModelError(f"fine-tuned network file not found: {path}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise WeightsError(f"cannot read fine-tuned network file {path}: {exc}") from exc
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise WeightsError(f"{path} was not written by semclust's finetune()")
    return content


def create(
    args: str,
    *,
    weights: str | Path | None = None,
    batch_size: int = 32,
    device: str = "cpu",
) -> TorchImageEmbedder:
    """Factory for ``finetuned:PATH``: penultimate features of a :func:`finetune` network.

    ``weights`` exists so every image-embedder factory takes the same options; the
    weights are the file in the spec, so it must be ``None``.
    """
    if weights is not None:
        raise SemclustError(f"finetuned:{args} takes its weights from {args}; do not set weights")
    path = Path(args).expanduser()
    content = read_finetuned(path)
    arch = architecture(content["base"].removeprefix("cnn:"))
    model = seeded(arch.build)
    _replace_head(model, arch, len(content["labels"]))
    load_into(model, content["state_dict"], path, f"finetuned:{path}")
    return feature_embedder(
        f"finetuned:{path}@{file_fingerprint(path)}",
        model,
        arch,
        content["image_size"],
        batch_size=batch_size,
        device=device,
    )
