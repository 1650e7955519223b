"""The study's ledger of provider batches (``describe --batch``): what was submitted, and what came back.

Implements :class:`semclust.stages.describe.batch.BatchLedger`. Every change is committed at
once, so the ledger is exactly as current as the last call that returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from semclust.core.store.store import StudyStore, now_iso


@dataclass
class BatchRow:
    """One submitted (or uploaded, not yet created) batch, as the ledger holds it."""

    local_id: int
    base_url: str
    file_id: str
    batch_id: str | None
    status: str
    round: int
    n_requests: int
    shas: list[str]


class StudyBatchLedger:
    """Batches of one describer+model+prompt+params group, in the study's SQLite file."""

    def __init__(self, store: StudyStore, describer: str, model: str, prompt_hash: str, params_hash: str):
        self.store = store
        self.group = (describer, model, prompt_hash, params_hash)

    def add_upload(self, base_url: str, file_id: str, shas: list[str], n_bytes: int, round: int) -> int:
        """Record an uploaded input file (no batch yet); returns its local id."""
        conn = self.store._conn
        with self.store._lock:
            conn.execute("BEGIN")
            try:
                cursor = conn.execute(
                    "INSERT INTO describe_batches (base_url, describer, model, prompt_hash, params_hash,"
                    " file_id, status, round, n_requests, n_bytes, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'uploaded', ?, ?, ?, ?, ?)",
                    (base_url, *self.group, file_id, round, len(shas), n_bytes, now_iso(), now_iso()),
                )
                local_id = cursor.lastrowid
                conn.executemany(
                    "INSERT INTO describe_batch_items (local_id, sha256) VALUES (?, ?)",
                    ((local_id, sha) for sha in shas),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return local_id

    def set_batch(self, local_id: int, batch_id: str, status: str) -> None:
        self._update(local_id, batch_id=batch_id, status=status)

    def set_status(self, local_id: int, status: str, output_file_id: str | None = None,
                   error_file_id: str | None = None) -> None:
        self._update(local_id, status=status, output_file_id=output_file_id, error_file_id=error_file_id)

    def set_collected(self, local_id: int) -> None:
        self._update(local_id, collected=1)

    def _update(self, local_id: int, **values) -> None:
        values = {k: v for k, v in values.items() if v is not None}
        columns = ", ".join(f"{k}=?" for k in values)
        self.store._execute(
            f"UPDATE describe_batches SET {columns}, updated_at=? WHERE local_id=?",
            (*values.values(), now_iso(), local_id),
        )

    def open_batches(self) -> list[BatchRow]:
        """This group's batches whose results are not yet stored, oldest first."""
        rows = self.store._execute(
            "SELECT * FROM describe_batches WHERE describer=? AND model=? AND prompt_hash=?"
            " AND params_hash=? AND collected=0 ORDER BY local_id",
            self.group,
        ).fetchall()
        return [self._row(r) for r in rows]

    def _row(self, r) -> BatchRow:
        shas = [x[0] for x in self.store._execute(
            "SELECT sha256 FROM describe_batch_items WHERE local_id=?", (r["local_id"],))]
        return BatchRow(r["local_id"], r["base_url"], r["file_id"], r["batch_id"], r["status"],
                        r["round"], r["n_requests"], shas)

    def rounds(self, sha: str) -> int:
        """How many batches of this group have held ``sha`` (to cap retries of one image)."""
        return self.store._execute(
            "SELECT COUNT(*) FROM describe_batch_items i JOIN describe_batches b USING (local_id)"
            " WHERE i.sha256=? AND b.describer=? AND b.model=? AND b.prompt_hash=? AND b.params_hash=?",
            (sha, *self.group),
        ).fetchone()[0]


def batches_frame(store: StudyStore) -> pd.DataFrame:
    """Every batch of the study, newest first (``semclust describe --status``)."""
    return pd.read_sql_query(
        "SELECT batch_id, status, describer || ':' || model AS describer, round, n_requests,"
        " CASE collected WHEN 1 THEN 'yes' ELSE 'no' END AS stored, file_id, created_at, updated_at"
        " FROM describe_batches ORDER BY local_id DESC",
        store._conn,
    )
