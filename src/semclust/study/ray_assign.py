"""Assign items to a fitted run's clusters on a Ray cluster: the path to 10M+ items.

Fitting UMAP + HDBSCAN does not scale out, but assigning does: each item's placement (UMAP
``transform``, HDBSCAN ``approximate_predict``) depends only on the fitted model.  So the model
is fitted on a sample on one node (``fit_sample``), saved, put into Ray's object store once
(pickled), and held by one actor per worker (unpickled once, not per chunk); chunks of vectors
go to whichever actor is free, at most ``queue`` per actor at a time so the driver never holds
more than a few chunks, and the results come back in input order.  A chunk given as the path of
a ``.npy`` file is read by the worker itself, so that on a cluster with shared storage the
vectors do not all pass through the driver.

Each actor unpickles a private copy rather than taking the model from ``ray.get``: Ray hands
numpy arrays out zero-copy from one shared buffer per node, and UMAP's neighbour index
(pynndescent) writes into one of its arrays (``_visited``) as scratch space while it searches,
so the workers of a node would race on it and place items differently from run to run.

A chunk gets the labels that :func:`semclust.stages.fitted_model.assign` gives it in one process.
Chunks should be the same as a local run's to get its labels bit for bit: UMAP's transform
runs 100 epochs on calls of up to 10,000 rows and 30 above, and its neighbour search draws
from one random stream per call.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from semclust.core.errors import SemclustError, require
from semclust.core.ray_connect import connect
from semclust.stages.fitted_model import FittedModel, assign, load_model, ready_to_assign

log = logging.getLogger(__name__)

#: Rows per Ray task when a whole matrix is given: above UMAP's 10,000-row threshold (so the
#: 30-epoch regime of a one-call assignment), 77 MB of 384-d float32.
CHUNK_ROWS = 50_000


class _Assigner:
    """One per Ray worker: keeps the model and assigns chunk after chunk."""

    def __init__(self, pickled_model: bytes, threads: int):
        import numba

        # Ray reserves ``threads`` CPUs for this actor; numba's parallel parts would take them all
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        self.model = pickle.loads(pickled_model)  # private, writable arrays (see the module's docstring)

    def assign(self, chunk: np.ndarray | str) -> tuple[np.ndarray, np.ndarray]:
        labels, strengths, _ = assign(self.model, np.load(chunk) if isinstance(chunk, str) else chunk)
        return labels, strengths


Chunks = np.ndarray | Iterable[np.ndarray | str | Path]


def _chunks(vectors: Chunks, chunk_rows: int) -> Iterable[np.ndarray | str]:
    """Task inputs: a path (read by the worker) as a string, anything else as a float32 array."""
    parts = vectors
    if isinstance(vectors, np.ndarray):
        parts = (vectors[start:start + chunk_rows] for start in range(0, len(vectors), chunk_rows))
    return (str(c) if isinstance(c, (str, Path)) else np.asarray(c, dtype=np.float32) for c in parts)


def assign_on_ray(model: FittedModel | str | Path, vectors: Chunks, *,
                  address: str | None = None, workers: int = 2, cpus_per_worker: int = 1,
                  chunk_rows: int = CHUNK_ROWS, queue: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Run numbers (-1 = outlier) and membership strengths of ``vectors``, in input order.

    ``model``: a :class:`FittedModel` or a run folder with a saved model.  ``vectors``: one
    matrix (cut into ``chunk_rows``-row chunks) or any iterable of chunks (arrays, or paths of
    ``.npy`` files that every worker can read), consumed only as workers free up.  ``workers``
    actors of ``cpus_per_worker`` CPUs each hold one model copy apiece.  ``address`` is passed to
    ``ray.init`` (``"auto"``: the cluster this node belongs to); ``None`` starts a local
    instance with ``workers`` CPUs.  An existing Ray connection is used as it is.
    """
    ray = require("ray", "ray", "assigning on Ray")
    if workers < 1 or cpus_per_worker < 1 or queue < 1 or chunk_rows < 1:
        raise SemclustError("workers, cpus_per_worker, queue and chunk_rows must be at least 1")
    if not isinstance(model, FittedModel):
        model = load_model(Path(model))
    connect(ray, address, workers)
    actor = ray.remote(num_cpus=cpus_per_worker)(_Assigner)
    # built here once, not by every worker from its own copy
    model_ref = ray.put(pickle.dumps(ready_to_assign(model), protocol=pickle.HIGHEST_PROTOCOL))
    pool = [actor.remote(model_ref, cpus_per_worker) for _ in range(workers)]
    free = [a for _ in range(queue) for a in pool]  # slots, interleaved
    running: dict = {}  # object ref -> (chunk number, actor)
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def collect_one() -> None:
        [done], _ = ray.wait(list(running), num_returns=1)
        number, worker = running.pop(done)
        results[number] = ray.get(done)
        free.append(worker)

    try:
        for number, chunk in enumerate(_chunks(vectors, chunk_rows)):
            if not free:
                collect_one()
            worker = free.pop(0)
            running[worker.assign.remote(chunk)] = (number, worker)
        while running:
            collect_one()
    finally:
        for worker in pool:
            ray.kill(worker)
    if not results:
        raise SemclustError("no new items to assign")
    ordered = [results[number] for number in range(len(results))]
    log.info("assigned %d chunks on Ray with %d workers", len(ordered), workers)
    return np.concatenate([r[0] for r in ordered]), np.concatenate([r[1] for r in ordered])
