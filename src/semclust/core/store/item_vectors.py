"""Vectors that belong to items, not to texts: a Parquet list column given at ingest.

They are kept beside the database as ``item_vectors/<name>.npy`` (float32, one row per id)
and ``<name>.ids.parquet``, written and read whole: a million rows load in about a second,
where one SQLite row per vector would take a million reads.  Files are replaced atomically,
so a killed ingest leaves the previous version.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError

FOLDER = "item_vectors"


def _paths(study_folder: Path, name: str) -> tuple[Path, Path]:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    base = Path(study_folder) / FOLDER
    return base / f"{safe}.npy", base / f"{safe}.ids.parquet"


def save_item_vectors(study_folder: Path, name: str, ids, matrix: np.ndarray) -> None:
    """Store ``matrix`` under ``name``, merged with rows stored before (new rows win)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    ids = pd.Index([str(i) for i in ids])
    old_ids, old = load_item_vectors(study_folder, name)
    if old_ids is not None:
        if old.shape[1] != matrix.shape[1]:
            raise SemclustError(f"vectors {name!r}: stored ones have {old.shape[1]} dimensions, new ones {matrix.shape[1]}")
        keep = ~old_ids.isin(ids)
        ids, matrix = old_ids[keep].append(ids), np.vstack([old[keep], matrix])
    vectors_path, ids_path = _paths(study_folder, name)
    vectors_path.parent.mkdir(parents=True, exist_ok=True)
    for path, write in ((vectors_path, lambda f: np.save(f, matrix)),
                        (ids_path, lambda f: pd.DataFrame({"id": ids}).to_parquet(f, index=False))):
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            write(handle)
        os.replace(tmp, path)


def load_item_vectors(study_folder: Path, name: str) -> tuple[pd.Index | None, np.ndarray | None]:
    vectors_path, ids_path = _paths(study_folder, name)
    if not vectors_path.exists() or not ids_path.exists():
        return None, None
    ids, matrix = pd.Index(pd.read_parquet(ids_path)["id"]), np.load(vectors_path)
    if len(ids) != len(matrix):
        raise SemclustError(f"{vectors_path} and {ids_path} disagree ({len(matrix)} rows, {len(ids)} ids): "
                            "ingest the vectors again")
    return ids, matrix
