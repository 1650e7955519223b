"""Persistence of one study: what was ingested, described, embedded and run.

Every write commits at once (autocommit connection): a description paid for is on
disk before the next request goes out, so Ctrl-C or a crash loses nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.core.store.db import connect
from semclust.core.store.records import DescriptionKey, DescriptionRecord

DB_NAME = "study.sqlite"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ItemRow:
    """One input row: an image (maybe unreadable) and the user's own columns."""

    id: str
    position: int
    path: str
    sha256: str | None
    status: str
    error: str | None
    meta: dict


@dataclass
class ImageRow:
    sha256: str
    phash: str
    width: int
    height: int
    format: str | None
    n_bytes: int


class StudyStore:
    """The SQLite database of a study folder (thread-safe for the describe runner's writes)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.folder / DB_NAME)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._conn.close()

    def _execute(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- items and images -------------------------------------------------
    def put_items(self, items: Iterable[ItemRow]) -> None:
        self._executemany(
            "INSERT OR REPLACE INTO items (id, position, path, sha256, status, error, meta)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (i.id, i.position, i.path, i.sha256, i.status, i.error, json.dumps(i.meta, default=str))
                for i in items
            ),
        )

    def put_item_versions(self, versions: Iterable[tuple[ItemRow, str]]) -> None:
        """Keep the earlier version of items a re-ingest replaces, with what changed."""
        stamp = now_iso()
        self._executemany(
            "INSERT INTO item_versions (id, replaced_at, path, sha256, status, error, meta, change)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ((i.id, stamp, i.path, i.sha256, i.status, i.error, json.dumps(i.meta, default=str), change)
             for i, change in versions),
        )

    def item_versions(self) -> pd.DataFrame:
        """Earlier versions of re-ingested ids, oldest first."""
        return pd.read_sql_query("SELECT * FROM item_versions ORDER BY replaced_at, rowid", self._conn)

    def put_images(self, images: Iterable[ImageRow]) -> None:
        self._executemany(
            "INSERT OR IGNORE INTO images (sha256, phash, width, height, format, n_bytes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ((i.sha256, i.phash, i.width, i.height, i.format, i.n_bytes) for i in images),
        )

    def known_paths(self) -> dict[str, ItemRow]:
        """Items already ingested, by path: a re-ingest skips hashing files it has seen."""
        return {row.path: row for row in self.items()}

    def items(self) -> list[ItemRow]:
        rows = self._execute(
            "SELECT id, position, path, sha256, status, error, meta FROM items ORDER BY position"
        ).fetchall()
        return [
            ItemRow(r["id"], r["position"], r["path"], r["sha256"], r["status"], r["error"], json.loads(r["meta"]))
            for r in rows
        ]

    def items_frame(self) -> pd.DataFrame:
        """All items as a table: id, image, sha256, status, error and the user's own columns."""
        rows = self.items()
        if not rows:
            raise SemclustError(f"the study {self.folder} has no images yet: run `semclust ingest` first")
        base = pd.DataFrame(
            {
                "id": [r.id for r in rows],
                "image": [r.path for r in rows],
                "sha256": [r.sha256 for r in rows],
                "status": [r.status for r in rows],
                "error": [r.error for r in rows],
            }
        )
        meta = pd.DataFrame([r.meta for r in rows])
        meta = meta.drop(columns=[c for c in meta.columns if c in base.columns], errors="ignore")
        return pd.concat([base, meta], axis=1)

    def images_frame(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM images", self._conn)

    # --- descriptions (implements describe.base.DescriptionCache) ---------
    def get_many(self, keys: list[DescriptionKey]) -> dict[DescriptionKey, DescriptionRecord]:
        found: dict[DescriptionKey, DescriptionRecord] = {}
        by_group: dict[tuple, list[DescriptionKey]] = {}
        for key in keys:
            by_group.setdefault((key.describer, key.model, key.prompt_hash, key.params_hash), []).append(key)
        for (describer, model, p_hash, x_hash), group in by_group.items():
            wanted = {k.sha256: k for k in group}
            for chunk in _chunks(list(wanted), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._execute(
                    "SELECT * FROM descriptions WHERE describer=? AND model=? AND prompt_hash=?"
                    f" AND params_hash=? AND sha256 IN ({marks})",
                    (describer, model, p_hash, x_hash, *chunk),
                ).fetchall()
                for r in rows:
                    key = wanted[r["sha256"]]
                    found[key] = DescriptionRecord(
                        key=key,
                        status=r["status"],
                        text=r["text"],
                        error=r["error"],
                        prompt_tokens=r["prompt_tokens"],
                        completion_tokens=r["completion_tokens"],
                        seconds=r["seconds"],
                        finish_reason=r["finish_reason"],
                        served_model=r["served_model"],
                        attempts=r["attempts"],
                    )
        return found

    def put(self, record: DescriptionRecord) -> None:
        k = record.key
        self._execute(
            "INSERT OR REPLACE INTO descriptions (sha256, describer, model, prompt_hash, params_hash,"
            " prompt, params, status, text, error, prompt_tokens, completion_tokens, seconds, created_at,"
            " finish_reason, served_model, attempts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                k.sha256, k.describer, k.model, k.prompt_hash, k.params_hash, k.prompt, k.params,
                record.status, record.text, record.error, record.prompt_tokens,
                record.completion_tokens, record.seconds, now_iso(),
                record.finish_reason, record.served_model, record.attempts,
            ),
        )

    # --- embedding caches -------------------------------------------------
    def get_vectors(self, table: str, embedder: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors for ``keys`` (text hashes or image sha256) under ``embedder``."""
        found, matrix = self.get_matrix(table, embedder, keys)
        return {key: matrix[i] for i, key in enumerate(keys) if found[i]}

    def get_matrix(self, table: str, embedder: str, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(found, matrix)``: one row per key (zeros where ``found`` is False), read in bulk.

        Few keys are looked up by primary key; many are read in one scan of the embedder's rows,
        ``fetchmany`` block by block straight into the result (a million 384-d vectors: the
        1.5 GB result and one block, not the blobs and a joined copy besides), each block's
        rows placed by a pandas index of the keys.
        """
        column = _key_column(table)
        codes, unique = pd.factorize(pd.Index(list(keys), dtype=object))
        if len(unique) <= 5000:
            cursors = (self._execute(f"SELECT {column}, vector FROM {table} WHERE embedder=? AND {column} IN "
                                     f"({','.join('?' * len(chunk))})", (embedder, *chunk))
                       for chunk in _chunks(list(unique), 500))
        else:
            cursors = iter([self._execute(f"SELECT {column}, vector FROM {table} WHERE embedder=?", (embedder,))])
        found = np.zeros(len(unique), dtype=bool)
        matrix = None
        for cursor in cursors:
            while rows := cursor.fetchmany(50_000):
                where = unique.get_indexer([r[0] for r in rows])
                block = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                if matrix is None:
                    matrix = np.zeros((len(unique), block.shape[1]), dtype=np.float32)
                keep = where >= 0
                matrix[where[keep]], found[where[keep]] = block[keep], True
        if matrix is None:
            return np.zeros(len(codes), dtype=bool), np.zeros((len(codes), 0), dtype=np.float32)
        if len(unique) == len(codes):  # no repeated key: codes are 0..n-1, the matrix is already in key order
            return found, matrix
        return found[codes], matrix[codes]

    def put_vectors(self, table: str, embedder: str, keys: Sequence[str], matrix: np.ndarray) -> None:
        column = _key_column(table)
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or len(matrix) != len(keys):
            raise ValueError(f"need one vector per key: {len(keys)} keys, matrix {matrix.shape}")
        self._executemany(
            f"INSERT OR REPLACE INTO {table} (embedder, {column}, vector) VALUES (?, ?, ?)",
            zip(itertools.repeat(embedder), keys, map(np.ndarray.tobytes, matrix)),
        )

    # --- runs and state ---------------------------------------------------
    def put_run(self, run_id: str, config: dict, seed: int | None, versions: dict, status: str) -> None:
        self._execute(
            "INSERT OR REPLACE INTO runs (id, created_at, config, seed, versions, status)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, now_iso(), json.dumps(config, default=str), seed, json.dumps(versions), status),
        )

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY created_at, id", self._conn)

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self._execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        self._execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))


def _key_column(table: str) -> str:
    columns = {"text_embeddings": "text_hash", "image_embeddings": "sha256"}
    if table not in columns:
        raise ValueError(f"not an embedding table: {table}")
    return columns[table]


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]
