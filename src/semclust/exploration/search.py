"""Full-text search over descriptions and post text with SQLite FTS5.

The index is derived data, rebuilt whenever the texts change, so it lives in its own
file (``STUDY/search.sqlite``) rather than in the study database: deleting it loses
nothing. What a user types is never passed to FTS5 as query syntax; each word becomes a
quoted term (the last one a prefix), so quotes, ``OR`` or ``NEAR(`` in a query are
searched for as text instead of raising a syntax error.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import pandas as pd

INDEX_FILE = "search.sqlite"
#: Columns never indexed: paths, ids and what the pipeline wrote.
NOT_TEXT = {"id", "image", "sha256", "status", "error", "cluster", "cluster_name", "probability",
            "centroid_distance", "exemplar", "note", "description"}


def post_text(assignments: pd.DataFrame) -> pd.Series:
    """The input's own text columns joined (post text, account, hashtags, ...)."""
    columns = [c for c in assignments.columns
               if c not in NOT_TEXT and (assignments[c].dtype == object or pd.api.types.is_string_dtype(assignments[c]))]
    if not columns:
        return pd.Series("", index=assignments.index)
    return assignments[columns].fillna("").astype(str).agg(" ".join, axis=1)


class SearchIndex:
    """``search(query)`` -> matching item ids, best first, with a highlighted snippet."""

    def __init__(self, study_folder: Path, assignments: pd.DataFrame):
        self.path = Path(study_folder) / INDEX_FILE
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5("
                           "item_id UNINDEXED, description, post, tokenize='unicode61 remove_diacritics 2')")
        self._ensure(assignments)

    def close(self) -> None:
        self._conn.close()

    def _ensure(self, assignments: pd.DataFrame) -> None:
        ids = assignments["id"].astype(str)
        descriptions = assignments["description"].fillna("").astype(str)
        posts = post_text(assignments)
        digest = hashlib.sha256()
        for part in (ids, descriptions, posts):
            digest.update("\x1f".join(part).encode("utf-8"))
        signature = digest.hexdigest()
        row = self._conn.execute("SELECT value FROM meta WHERE key='signature'").fetchone()
        if row and row[0] == signature:
            return
        with self._conn:
            self._conn.execute("DELETE FROM texts")
            self._conn.executemany("INSERT INTO texts (item_id, description, post) VALUES (?, ?, ?)",
                                   zip(ids, descriptions, posts, strict=True))
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('signature', ?)", (signature,))

    def search(self, query: str, limit: int = 500) -> list[tuple[str, str]]:
        """``[(item_id, snippet), ...]``; the snippet marks hits with ``[`` ``]`` (escape it when shown)."""
        match = fts_query(query)
        if not match:
            return []
        rows = self._conn.execute(
            "SELECT item_id, snippet(texts, -1, '[', ']', ' … ', 16) FROM texts WHERE texts MATCH ?"
            " ORDER BY rank LIMIT ?", (match, int(limit))).fetchall()
        return [(r[0], r[1]) for r in rows]


def fts_query(text: str) -> str:
    """Each word of ``text`` as a quoted FTS5 term, the last as a prefix; empty for no words."""
    words = re.findall(r"\w+", text or "")
    if not words:
        return ""
    terms = [f'"{w}"' for w in words]
    terms[-1] += "*"
    return " ".join(terms)
