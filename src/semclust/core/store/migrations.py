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
    # 2: annotation tasks for the coding app: units shown, coders' orders, answers by coder
    """
    CREATE TABLE annotation_tasks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('pairs', 'interpretability', 'consistency')),
        source TEXT NOT NULL,
        source_hash TEXT NOT NULL,
        seed INTEGER NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        key TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE TABLE annotation_units (
        task_id INTEGER NOT NULL REFERENCES annotation_tasks(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        unit TEXT NOT NULL,
        items TEXT NOT NULL,
        content TEXT NOT NULL DEFAULT '{}',
        key TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (task_id, position),
        UNIQUE (task_id, unit)
    );
    CREATE TABLE annotation_coders (
        task_id INTEGER NOT NULL REFERENCES annotation_tasks(id) ON DELETE CASCADE,
        coder TEXT NOT NULL,
        seed INTEGER NOT NULL,
        unit_order TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (task_id, coder)
    );
    CREATE TABLE annotation_answers (
        task_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        coder TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('answered', 'skipped')),
        answer TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (task_id, position, coder),
        FOREIGN KEY (task_id, position) REFERENCES annotation_units(task_id, position) ON DELETE CASCADE,
        FOREIGN KEY (task_id, coder) REFERENCES annotation_coders(task_id, coder) ON DELETE CASCADE
    );
    """,
    # 3 (issue 8, parts 9 and 13): how each description ended (finish_reason, served model,
    # attempts), and earlier versions of an item id that a re-ingest replaced
    """
    ALTER TABLE descriptions ADD COLUMN finish_reason TEXT;
    ALTER TABLE descriptions ADD COLUMN served_model TEXT;
    ALTER TABLE descriptions ADD COLUMN attempts INTEGER;
    CREATE TABLE item_versions (
        id TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT,
        status TEXT NOT NULL,
        error TEXT,
        meta TEXT NOT NULL DEFAULT '{}',
        change TEXT NOT NULL
    );
    CREATE INDEX item_versions_id ON item_versions(id);
    """,
    # issue 9 (E9): rating tasks (a new kind), coder attributes (groups), browser sessions,
    # removed coders (answers kept), and each task's fielding settings (secret of its links,
    # completion URL). The kind's CHECK changes, so annotation_tasks is rebuilt the SQLite way
    # (the 12 steps of lang_altertable.html): foreign keys off, so that dropping the old table
    # cascades nothing; `connect` turns them back on after migrating.
    """
    COMMIT;
    PRAGMA foreign_keys=OFF;
    BEGIN;
    CREATE TABLE annotation_tasks_new (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL
            CHECK (kind IN ('pairs', 'interpretability', 'consistency', 'ratings')),
        source TEXT NOT NULL,
        source_hash TEXT NOT NULL,
        seed INTEGER NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        key TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        fielding TEXT NOT NULL DEFAULT '{}'
    );
    INSERT INTO annotation_tasks_new
        (id, name, kind, source, source_hash, seed, settings, key, created_at)
        SELECT id, name, kind, source, source_hash, seed, settings, key, created_at
        FROM annotation_tasks;
    DROP TABLE annotation_tasks;
    ALTER TABLE annotation_tasks_new RENAME TO annotation_tasks;
    ALTER TABLE annotation_coders ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE annotation_coders ADD COLUMN session_hash TEXT;
    ALTER TABLE annotation_coders ADD COLUMN slot INTEGER;
    ALTER TABLE annotation_coders ADD COLUMN removed_at TEXT;
    ALTER TABLE annotation_coders ADD COLUMN former_names TEXT NOT NULL DEFAULT '[]';
    """,
    # issue 11 (E11): provider batches of `semclust describe --batch`. A row is written the
    # moment its input file is uploaded (before the batch is created) and gets the batch id
    # the moment the batch exists, so a killed run resumes polling and never resubmits.
    """
    CREATE TABLE describe_batches (
        local_id INTEGER PRIMARY KEY,
        base_url TEXT NOT NULL,
        describer TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        params_hash TEXT NOT NULL,
        file_id TEXT NOT NULL,
        batch_id TEXT UNIQUE,
        status TEXT NOT NULL,
        round INTEGER NOT NULL DEFAULT 1,
        n_requests INTEGER NOT NULL,
        n_bytes INTEGER NOT NULL,
        output_file_id TEXT,
        error_file_id TEXT,
        collected INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE describe_batch_items (
        local_id INTEGER NOT NULL REFERENCES describe_batches(local_id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (local_id, sha256)
    );
    CREATE INDEX describe_batch_items_sha ON describe_batch_items(sha256);
    """,
]
