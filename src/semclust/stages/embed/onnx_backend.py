"""``onnx:MODEL``: a sentence-transformers model run by ONNX Runtime, int8-quantised, on the CPU.

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, which pins
``transformers<4.58`` and so cannot be installed beside the transformers 5 that semclust's
other backends use.  This backend does the same with the libraries underneath: the model's
transformer and its mean pooling + normalisation are exported once with ``torch.onnx.export``,
quantised with ONNX Runtime's ``quantize_dynamic`` (int8 weights), cached in
``$SEMCLUST_HOME/onnx/`` (default ``~/.cache/semclust/onnx/``) and run with an
``InferenceSession``; texts are tokenised by the model's own tokenizer.  The vectors differ
slightly from the PyTorch ones, so they are cached under their own name (``onnx:MODEL``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from semclust.core.errors import MissingModelError, SemclustError, require
from semclust.stages.embed.sentence_transformers_backend import (
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
)

log = logging.getLogger(__name__)


def onnx_cache_folder() -> Path:
    from semclust.core.home import semclust_home

    return semclust_home() / "onnx"


def _fingerprint(model_path: Path) -> str:
    """Changes when the model's files change, so a new model is exported again."""
    digest = hashlib.sha256()
    for file in sorted(p for p in model_path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(model_path)}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:12]


def export_quantized(st_model, model_path: Path, folder: Path) -> Path:
    """Export ``st_model`` (transformer + mean pooling + normalise) to ONNX and quantise it to int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    modules = [type(m).__name__ for m in st_model]
    pooling = st_model[1] if len(st_model) > 1 else None
    mean = getattr(pooling, "pooling_mode", None) == "mean" or getattr(pooling, "pooling_mode_mean_tokens", False) is True
    if modules[:2] != ["Transformer", "Pooling"] or not mean:
        raise SemclustError(f"onnx: only mean-pooled sentence-transformers models can be exported, got {modules}")

    class Encoder(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "model-fp32.onnx", folder / "model-int8.onnx"
    encoder = Encoder(st_model[0].auto_model.float().eval())
    example = st_model.tokenizer(["an example sentence"], return_tensors="pt")
    log.info("exporting %s to ONNX and quantising it to int8 (once; cached in %s)", model_path, folder)
    with torch.no_grad():
        torch.onnx.export(encoder, (example["input_ids"], example["attention_mask"]), str(fp32), dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
                          opset_version=17)
    tmp = int8.with_name(int8.name + ".tmp")
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, int8)  # a killed export never leaves a half-written model that looks finished
    return int8


class OnnxEmbedder:
    """The same model as ``st:MODEL``, exported once, int8, run by ONNX Runtime."""

    corpus_dependent = False

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64, threads: int | None = None,
                 progress: bool = True):
        self.name = f"onnx:{model}"
        self.model = model
        self.batch_size = batch_size
        self.threads = threads
        self.progress = progress
        self._session = None
        self._tokenizer = None
        self._max_length = 256

    @classmethod
    def from_spec(cls, args: str, **options) -> OnnxEmbedder:
        return cls(args or DEFAULT_MODEL, **options)

    def _load(self):
        if self._session is None:
            ort = require("onnxruntime", "onnx", "The onnx: text embedder")
            torch_backend = SentenceTransformerEmbedder(self.model, progress=False)
            st_model = torch_backend._load()
            model_path = _model_folder(self.model)
            folder = onnx_cache_folder() / f"{Path(self.model).name}-{_fingerprint(model_path)}"
            path = folder / "model-int8.onnx"
            if not path.exists():
                path = export_quantized(st_model, model_path, folder)
            options = ort.SessionOptions()
            if self.threads:
                options.intra_op_num_threads = self.threads
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self._tokenizer = st_model.tokenizer
            self._max_length = st_model.max_seq_length
        return self._session

    def fit_to_limit(self, text: str) -> tuple[str, int, int]:
        """``(text cut to the model's input limit, its length in tokens, the limit)``."""
        from semclust.stages.embed.base import truncate_to_tokens

        self._load()
        return (*truncate_to_tokens(self._tokenizer, text, self._max_length), self._max_length)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        from semclust.core.progress import track

        session = self._load()
        # sorted by length so each batch pads to similar lengths, as sentence-transformers does
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in track(starts, len(starts), "Embedding (onnx)", self.progress and len(texts) > self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = self._tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                    max_length=self._max_length, return_tensors="np")
            vectors = session.run(None, {"input_ids": batch["input_ids"].astype(np.int64),
                                         "attention_mask": batch["attention_mask"].astype(np.int64)})[0]
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out


def _model_folder(model: str) -> Path:
    from semclust.stages.embed.sentence_transformers_backend import resolve_model_path

    path = Path(resolve_model_path(model))
    if not path.is_dir():
        raise MissingModelError(f"onnx:{model}: the model must be a local folder or the bundled all-MiniLM-L6-v2")
    return path
