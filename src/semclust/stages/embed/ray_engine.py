"""``--engine ray``: embed texts on a Ray cluster with Ray Data, one model copy per worker.

The texts go into a Ray Dataset in order, ``map_batches`` runs a pool of actors that each
load the embedder once (``st:``, ``onnx:``, any non-corpus-dependent backend), and the vectors
come back in input order, so the result is the local run's, row for row; the study caches them
under the same embedder name.  ``address`` is passed to ``ray.init``: ``"auto"`` joins the
cluster this node belongs to (on SLURM: the one started by ``ray start`` in the job script),
``None`` starts a local instance with ``workers`` CPUs.
"""

from __future__ import annotations

import logging

import numpy as np

from semclust.core.errors import SemclustError, require
from semclust.core.ray_connect import connect

log = logging.getLogger(__name__)


class _EmbedActor:
    """One per Ray worker: builds the embedder once, then embeds batch after batch."""

    def __init__(self, spec: str, options: dict):
        from semclust.stages.embed import create_text_embedder

        self.backend = create_text_embedder(spec, **options)

    def __call__(self, batch: dict) -> dict:
        vectors = self.backend.embed_texts([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vector": list(np.asarray(vectors, dtype=np.float32))}


class RayEmbedder:
    """Wraps an embedder spec so that ``embed_texts`` runs on Ray; same ``name`` as the local backend."""

    corpus_dependent = False

    def __init__(self, spec: str, address: str | None = None, workers: int = 2, batch_size: int = 256,
                 options: dict | None = None):
        self.spec = spec
        self.name = spec
        self.address = address
        self.workers = workers
        self.batch_size = batch_size
        self.options = dict(options or {})
        if spec.startswith(("st:", "onnx:")):
            self.options.setdefault("progress", False)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        ray = require("ray", "ray", "--engine ray")
        if self.spec.startswith("tfidf"):
            raise SemclustError("--engine ray: tfidf: vectors depend on the whole corpus; embed them locally")
        connect(ray, self.address, self.workers)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        data = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
        embedded = data.map_batches(_EmbedActor, fn_constructor_args=(self.spec, self.options),
                                    batch_size=self.batch_size, concurrency=self.workers, num_cpus=1,
                                    batch_format="numpy")
        out = None
        for batch in embedded.iter_batches(batch_size=self.batch_size, batch_format="numpy"):
            vectors = np.stack(batch["vector"]).astype(np.float32)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch["row"]] = vectors
        log.info("embedded %d texts on Ray with %d workers", len(texts), self.workers)
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)
