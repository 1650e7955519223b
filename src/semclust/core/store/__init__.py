"""The study folder's SQLite store."""

from semclust.core.store.store import DB_NAME, ImageRow, ItemRow, StudyStore, text_hash

__all__ = ["DB_NAME", "ImageRow", "ItemRow", "StudyStore", "text_hash"]
