"""Numbered schema migrations of the study database; append only, never edit a shipped one."""

MIGRATIONS: list[str] = [
    # 1: items, images, descriptions, embeddings cache, runs, key-value state
    """
    CREATE TABLE items (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
        error TEXT,
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX items_sha256 ON items(sha256);
    CREATE TABLE images (
        sha256 TEXT PRIMARY KEY,
        phash TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        format TEXT,
        n_bytes INTEGER NOT NULL
    );
    CREATE TABLE descriptions (
        sha256 TEXT NOT NULL,
        describer TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        params_hash TEXT NOT NULL,
        prompt TEXT NOT NULL,
        params TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'refused')),
        text TEXT,
        error TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        seconds REAL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (sha256, describer, model, prompt_hash, params_hash)
    );
    CREATE TABLE text_embeddings (
        embedder TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (embedder, text_hash)
    );
    CREATE TABLE image_embeddings (
        embedder TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (embedder, sha256)
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        config TEXT NOT NULL,
        seed INTEGER,
        versions TEXT NOT NULL,
        status TEXT NOT NULL
    );
    CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]
