"""Vectors made elsewhere: ``column:NAME`` (a list/array column of the Parquet input) or ``npy:FILE``.

BERTopic accepts precomputed embeddings; so does semclust.  ``column:NAME`` vectors are taken
out of the input at ingest and stored in bulk (:mod:`semclust.core.store.item_vectors`);
``npy:FILE`` is a ``.npy`` matrix with one row per input row, in the input's order (memory-mapped,
so a million rows cost no copy until they are clustered).  Neither needs descriptions: keywords
and the report then use whatever text the items have.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.core.store.item_vectors import load_item_vectors

PREFIXES = ("column:", "npy:")


def is_precomputed(spec: str) -> bool:
    return spec.startswith(PREFIXES)


def precomputed_vectors(items: pd.DataFrame, study_folder: Path, spec: str) -> tuple[pd.Index, np.ndarray]:
    """``(ids, matrix)`` of the usable items that have a vector under ``spec``, in item order."""
    usable = items[items["status"] == "ok"]
    if spec.startswith("npy:"):
        path = Path(spec[len("npy:"):]).expanduser()
        if not path.exists():
            raise SemclustError(f"embedder {spec!r}: file not found: {path}")
        try:
            matrix = np.load(path, mmap_mode="r")
        except ValueError as exc:
            raise SemclustError(f"embedder {spec!r}: not a .npy matrix ({exc})") from exc
        if matrix.ndim != 2 or len(matrix) != len(items):
            raise SemclustError(f"embedder {spec!r}: needs one row per input row ({len(items)}), "
                                f"the file has shape {matrix.shape}")
        rows = np.flatnonzero((items["status"] == "ok").to_numpy())
        return pd.Index(usable["id"]), np.asarray(matrix[rows], dtype=np.float32)
    ids, matrix = load_item_vectors(study_folder, spec)
    if ids is None:
        raise SemclustError(f"embedder {spec!r}: the input had no vector column {spec[len('column:'):]!r} "
                            "(a Parquet column of lists or arrays, ingested with the items)")
    where = ids.get_indexer(usable["id"])
    keep = where >= 0
    return pd.Index(usable["id"][keep]), matrix[where[keep]]
