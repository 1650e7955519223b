"""Opening the study database and bringing its schema up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from semclust.core.errors import SemclustError
from semclust.core.store.migrations import MIGRATIONS


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``.

    WAL mode lets a report be read while descriptions are still being written, and
    ``synchronous=NORMAL`` keeps every committed description on disk across a crash
    of the process without an fsync per row.
    """
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except BaseException:
        conn.close()  # a refused or failed migration must not leave the file open (and locked)
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply every migration newer than the database, each in its own transaction."""
    current = schema_version(conn)
    if current > len(MIGRATIONS):
        raise SemclustError(
            f"this study was written by a newer semclust (schema {current}, this version knows "
            f"{len(MIGRATIONS)}); upgrade semclust to open it"
        )
    for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
    conn.execute("PRAGMA foreign_keys=ON")  # a migration that rebuilds a table turns them off
