"""Finding and reading model weights without ever downloading them.

A study must be reproducible offline and a network that silently starts from random
weights gives meaningless clusters, so a model's weights come from exactly one of:
an explicit file (``weights=PATH``), the library's cache directory
(``$SEMCLUST_HOME/weights/``, default ``~/.cache/semclust/weights/``), or the cache where
the owning library (torchvision, timm, open_clip) would have put them. When none has
the file, :class:`~semclust.core.errors.MissingModelError` says which file, where to put it
and how to fetch it on a machine with internet access.

``weights="random"`` builds a randomly initialised, seeded model. It is meant for tests
and throughput benchmarks only: its embeddings carry no meaning.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from semclust.core.errors import MissingModelError, SemclustError, require
from semclust.core.home import semclust_home

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

#: The ``weights`` value that asks for a seeded random initialisation (tests, benchmarks).
RANDOM = "random"
#: Seed of ``weights="random"``, so two random models of one architecture are identical.
RANDOM_SEED = 0


class WeightsError(SemclustError):
    """A weights file exists but cannot be read or does not fit the model."""


@dataclass(frozen=True)
class WeightFile:
    """The published weights of one model and where a user can get them.

    Parameters
    ----------
    filename
        Name the file must have in the semclust weights directory (the owning
        library's own file name where there is one, so its cached copy can be reused).
    url
        Direct download address, for a machine with internet access.
    fetch_command
        A shell command that makes the owning library download and cache the file.
    torch_hub
        Also look in torch.hub's checkpoint directory (torchvision and timm cache there).
    hf_repo, hf_filenames
        Also look in the Hugging Face cache of this repository (open_clip caches there).
    """

    filename: str
    url: str
    fetch_command: str
    torch_hub: bool = False
    hf_repo: str | None = None
    hf_filenames: tuple[str, ...] = ()


def weights_dir() -> Path:
    """Where users put weights files by hand: ``$SEMCLUST_HOME/weights``."""
    return semclust_home() / "weights"


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint directory (honours ``TORCH_HOME``)."""
    torch = require("torch", "cnn", "Image embeddings")
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(spec: str, weight_file: WeightFile | None, weights: str | Path | None) -> Path:
    """The local weights file for ``spec``: the explicit one, or the first cached copy found.

    ``weight_file`` is ``None`` for a model without published weights.

    Raises
    ------
    MissingModelError
        When the explicit file does not exist, or no cache holds the file; the message
        names the file, the places searched and how to obtain it.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise MissingModelError(f"{spec}: weights file not found: {path}")
        return path
    if weight_file is None:
        raise MissingModelError(f"{spec} has no published weights; pass a file as weights=PATH")
    searched = _candidates(weight_file)
    for path in searched:
        if path.is_file():
            return path
    raise MissingModelError(_missing_message(spec, weight_file, searched))


def _candidates(weight_file: WeightFile) -> list[Path]:
    paths = [weights_dir() / weight_file.filename]
    if weight_file.torch_hub:
        paths.append(torch_hub_checkpoints() / weight_file.filename)
    if weight_file.hf_repo:
        paths.extend(_hf_cached(weight_file.hf_repo, weight_file.hf_filenames))
    return paths


def _hf_cached(repo: str, filenames: tuple[str, ...]) -> list[Path]:
    """Files of ``repo`` already in the Hugging Face cache (no network access)."""
    hub = require("huggingface_hub", "clip", "CLIP embeddings")
    found = []
    for filename in filenames:
        hit = hub.try_to_load_from_cache(repo, filename, cache_dir=hub.constants.HF_HUB_CACHE)
        if isinstance(hit, str):
            found.append(Path(hit))
    return found


def _missing_message(spec: str, weight_file: WeightFile, searched: list[Path]) -> str:
    places = "\n".join(f"  {path}" for path in searched)
    if weight_file.hf_repo:
        places += f"\n  the Hugging Face cache of {weight_file.hf_repo}"
    return (
        f"{spec} needs the weights file '{weight_file.filename}', which was not found "
        f"(weights are never downloaded at run time). Looked in:\n{places}\n"
        f"Put the file at {weights_dir() / weight_file.filename} "
        f"(the directory follows $SEMCLUST_HOME), or pass its path as weights=PATH.\n"
        f"To get it on a machine with internet access, download\n  {weight_file.url}\n"
        f"or run\n  {weight_file.fetch_command}\n"
        f"and copy the file it caches, {_cached_as(weight_file)}."
    )


def _cached_as(weight_file: WeightFile) -> str:
    """Where the fetch command leaves the file on the other machine (default locations)."""
    if weight_file.hf_repo:
        folder = "models--" + weight_file.hf_repo.replace("/", "--")
        return f"~/.cache/huggingface/hub/{folder}/snapshots/*/{weight_file.hf_filenames[0]}"
    if weight_file.torch_hub:
        return f"~/.cache/torch/hub/checkpoints/{weight_file.filename}"
    return f"{weight_file.filename} in the current directory"


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Parameters from a ``.safetensors`` file, a plain state dict or a training checkpoint.

    Training checkpoints wrap the state dict under ``"state_dict"`` (Places365, Lightning)
    or ``"model"`` (torchvision's reference scripts), and ``nn.DataParallel`` prefixes
    every key with ``module.``; both are undone here. Pickles are read with
    ``weights_only=True``: a weights file cannot run code.
    """
    if path.suffix == ".safetensors":
        st = require("safetensors.torch", "cnn", "Reading .safetensors weights")
        try:
            return _strip_module_prefix(st.load_file(str(path)))
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise WeightsError(f"cannot read weights file {path}: {exc}") from exc
    torch = require("torch", "cnn", "Image embeddings")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        raise WeightsError(
            f"cannot read weights file {path} as a state dict: {exc}\n"
            "A whole pickled model is not loaded (it could run code); save "
            "model.state_dict() instead."
        ) from exc
    return _strip_module_prefix(_unwrap_checkpoint(obj, path))


def _unwrap_checkpoint(obj: Any, path: Path) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict")
    for key in ("state_dict", "model"):
        if isinstance(obj.get(key), Mapping):
            return obj[key]
    return obj


def _strip_module_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_into(model: torch.nn.Module, state: Mapping[str, Any], source: Path, what: str) -> None:
    """Load ``state`` strictly, turning a mismatch into a message that names the file."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"weights file {source} does not fit {what}: {exc}") from exc


def file_fingerprint(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256: tells cached embeddings of two files apart."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def weights_tag(weights: str | Path | None, path: Path | None) -> str:
    """Suffix of an embedder's name that tells its weights apart in the embedding cache.

    The published weights (found by look-up) add nothing, so a user's copy and the
    library's copy share cached embeddings; random weights add ``@random``; an explicit
    file adds ``@`` and its fingerprint, so retrained weights never reuse stale vectors.
    """
    if weights is None:
        return ""
    if weights == RANDOM:
        return "@" + RANDOM
    return "@" + file_fingerprint(path)


def seeded(build: Callable[[], T]) -> T:
    """Call ``build`` under :data:`RANDOM_SEED` without disturbing the caller's torch RNG."""
    torch = require("torch", "cnn", "Image embeddings")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        return build()
