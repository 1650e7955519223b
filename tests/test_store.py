"""The study's SQLite store: migrations, description cache, vector caches, runs, state."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from semclust.core.errors import SemclustError
from semclust.core.store import DB_NAME, ImageRow, ItemRow, StudyStore, text_hash
from semclust.core.store import db as store_db
from semclust.core.store.migrations import MIGRATIONS
from semclust.core.store.records import DescriptionKey, DescriptionRecord, canonical_params

TABLES = {"items", "images", "descriptions", "text_embeddings", "image_embeddings", "runs", "state"}


def _user_version(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.fixture
def store(tmp_path):
    s = StudyStore(tmp_path / "study")
    yield s
    s.close()


def test_migrations_bring_an_empty_db_to_the_latest_schema(tmp_path):
    StudyStore(tmp_path / "s").close()
    db_path = tmp_path / "s" / DB_NAME
    assert _user_version(db_path) == len(MIGRATIONS)
    assert TABLES <= _tables(db_path)


def test_reopening_runs_only_new_migrations(tmp_path, monkeypatch):
    folder = tmp_path / "s"
    with_data = StudyStore(folder)
    with_data.set_state("kept", "yes")
    with_data.close()

    # A second release appends one migration: only it runs (re-running 1 would fail,
    # "table items already exists"), and the data written before survives.
    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE extra (x INTEGER);"])
    reopened = StudyStore(folder)
    assert reopened.get_state("kept") == "yes"
    reopened.close()
    assert _user_version(folder / DB_NAME) == len(MIGRATIONS) + 1
    assert "extra" in _tables(folder / DB_NAME)
    StudyStore(folder).close()  # up to date: nothing runs ("table extra already exists" otherwise)


def test_failed_migration_leaves_the_db_as_it_was(tmp_path, monkeypatch):
    folder = tmp_path / "s"
    StudyStore(folder).close()
    broken = "CREATE TABLE half_done (x INTEGER);\nSELECT no_such_function();"
    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError):
        StudyStore(folder)
    assert _user_version(folder / DB_NAME) == len(MIGRATIONS)
    assert "half_done" not in _tables(folder / DB_NAME)


def test_db_from_a_newer_semclust_is_refused(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    with sqlite3.connect(folder / DB_NAME) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(SemclustError, match="newer semclust"):
        StudyStore(folder)
    assert "items" not in _tables(folder / DB_NAME)  # nothing was applied on top


def _key(sha="a" * 64, prompt="Describe.", params=None, model="m1", describer="fake"):
    return DescriptionKey(sha, describer, model, prompt, canonical_params(params or {}))


def test_description_round_trip_with_all_fields(store):
    key = _key()
    record = DescriptionRecord(
        key, "ok", text="a cat", prompt_tokens=11, completion_tokens=3, seconds=0.25
    )
    store.put(record)
    got = store.get_many([key])[key]
    assert (got.status, got.text, got.error) == ("ok", "a cat", None)
    assert (got.prompt_tokens, got.completion_tokens, got.seconds) == (11, 3, 0.25)
    assert got.key == key


@pytest.mark.parametrize(
    "other",
    [
        _key(prompt="Describe briefly."),
        _key(params={"temperature": 0.7}),
        _key(model="m2"),
        _key(describer="other"),
        _key(sha="b" * 64),
    ],
)
def test_any_key_field_makes_a_different_entry(store, other):
    key = _key(params={"temperature": 0.0})
    store.put(DescriptionRecord(key, "ok", text="first"))
    assert store.get_many([other]) == {}
    store.put(DescriptionRecord(other, "failed", error="timeout"))
    both = store.get_many([key, other])
    assert both[key].text == "first"
    assert (both[other].status, both[other].error) == ("failed", "timeout")


def test_same_key_overwrites_and_param_order_does_not_matter(store):
    key = DescriptionKey("c" * 64, "fake", "m", "p", canonical_params({"a": 1, "b": 2}))
    same = DescriptionKey("c" * 64, "fake", "m", "p", canonical_params({"b": 2, "a": 1}))
    store.put(DescriptionRecord(key, "failed", error="429"))
    store.put(DescriptionRecord(same, "ok", text="later"))
    assert store.get_many([key])[key].text == "later"


def test_get_many_handles_more_keys_than_one_sql_chunk(store):
    keys = [_key(sha=f"{i:064x}") for i in range(1203)]
    for k in keys[::2]:
        store.put(DescriptionRecord(k, "ok", text=k.sha256[-4:]))
    found = store.get_many(keys)
    assert set(found) == set(keys[::2])
    assert all(found[k].text == k.sha256[-4:] for k in keys[::2])


@pytest.mark.parametrize("table", ["text_embeddings", "image_embeddings"])
def test_vectors_round_trip_exactly_as_float32(store, table):
    rng = np.random.default_rng(0)
    keys = [text_hash(f"t{i}") for i in range(5)]
    matrix = rng.normal(size=(5, 7)).astype(np.float32)
    store.put_vectors(table, "emb-a", keys, matrix)
    got = store.get_vectors(table, "emb-a", [keys[3], keys[0], "unknown", keys[3]])
    assert set(got) == {keys[0], keys[3]}
    assert got[keys[3]].dtype == np.float32
    np.testing.assert_array_equal(got[keys[3]], matrix[3])
    np.testing.assert_array_equal(got[keys[0]], matrix[0])
    assert store.get_vectors(table, "emb-b", keys) == {}  # the embedder is part of the key


def test_put_vectors_refuses_a_shape_that_does_not_match_the_keys(store):
    with pytest.raises(ValueError, match="one vector per key"):
        store.put_vectors("text_embeddings", "e", ["a", "b"], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="one vector per key"):
        store.put_vectors("text_embeddings", "e", ["a"], np.zeros(4))


def test_unknown_vector_table_is_refused(store):
    with pytest.raises(ValueError, match="not an embedding table"):
        store.get_vectors("items", "e", ["a"])


def test_state_get_set(store):
    assert store.get_state("input") is None
    assert store.get_state("input", "fallback") == "fallback"
    store.set_state("input", "/data/a.csv")
    store.set_state("input", "/data/b.csv")
    assert store.get_state("input") == "/data/b.csv"


def test_put_run_and_runs(store):
    store.put_run("r2", {"k": 5, "path": store.folder}, 7, {"semclust": "0.1"}, "clustered")
    store.put_run("r1", {"k": 3}, None, {}, "failed")
    runs = store.runs().set_index("id")
    assert set(runs.index) == {"r1", "r2"}
    assert runs.loc["r2", "seed"] == 7
    assert runs.loc["r2", "status"] == "clustered"
    assert '"k": 5' in runs.loc["r2", "config"]
    assert str(store.folder) in runs.loc["r2", "config"]  # non-JSON values stored as text
    assert np.isnan(runs.loc["r1", "seed"])


def test_items_and_images_round_trip(store):
    store.put_items(
        [
            ItemRow("b", 1, "/x/b.jpg", None, "error", "empty file (0 bytes)", {"text": "hi"}),
            ItemRow("a", 0, "/x/a.jpg", "s1", "ok", None, {"text": "yo", "likes": 3}),
        ]
    )
    store.put_images([ImageRow("s1", "ffff000000000000", 4, 3, "JPEG", 100)])
    store.put_images([ImageRow("s1", "0000000000000000", 9, 9, "PNG", 1)])  # first one kept
    frame = store.items_frame()
    assert frame["id"].tolist() == ["a", "b"]  # by position
    assert frame.loc[1, "error"] == "empty file (0 bytes)"
    assert frame["text"].tolist() == ["yo", "hi"]
    assert frame.loc[0, "likes"] == 3
    images = store.images_frame()
    assert images.to_dict("records") == [
        {
            "sha256": "s1",
            "phash": "ffff000000000000",
            "width": 4,
            "height": 3,
            "format": "JPEG",
            "n_bytes": 100,
        }
    ]
    assert set(store.known_paths()) == {"/x/a.jpg", "/x/b.jpg"}


def test_empty_study_has_no_items_frame(store):
    with pytest.raises(SemclustError, match="semclust ingest"):
        store.items_frame()


# --- the study's text-embedding cache ------------------------------------------


class CountingEmbedder:
    """A fake text embedder: deterministic vectors, and a record of every text it was given."""

    corpus_dependent = False

    def __init__(self, name: str, seen: list[str]):
        self.name = name
        self.seen = seen

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = [np.random.default_rng(list(t.encode())).normal(size=8) for t in texts]
        return np.asarray(rows, dtype=np.float64)  # not float32: the study must convert


@pytest.fixture
def fake_embedder(monkeypatch):
    from semclust.stages.embed import text_embedders

    # a private copy of the factories, so "fake" is gone again after the test
    monkeypatch.setattr(text_embedders, "_factories", dict(text_embedders._factories))
    seen: list[str] = []
    text_embedders.register("fake", lambda args, **options: CountingEmbedder(f"fake:{args}", seen))
    return seen


def test_embed_texts_embeds_each_distinct_text_once(tmp_study, fake_embedder):
    texts = ["a red car", "a dog", "a red car", "a cat", "a dog"]
    first = tmp_study.embed_texts(texts, "fake:v1")
    assert sorted(fake_embedder) == ["a cat", "a dog", "a red car"]  # duplicates once
    assert first.dtype == np.float32 and first.shape == (5, 8)
    np.testing.assert_array_equal(first[0], first[2])
    assert not np.array_equal(first[0], first[1])

    fake_embedder.clear()
    second = tmp_study.embed_texts(texts, "fake:v1")
    assert fake_embedder == []  # everything came from the cache
    np.testing.assert_array_equal(second, first)

    mixed = tmp_study.embed_texts(["a cat", "a bird"], "fake:v1")
    assert fake_embedder == ["a bird"]
    np.testing.assert_array_equal(mixed[0], first[3])


def test_embed_texts_cache_is_per_embedder(tmp_study, fake_embedder):
    tmp_study.embed_texts(["a dog"], "fake:v1")
    fake_embedder.clear()
    tmp_study.embed_texts(["a dog"], "fake:v2")  # another model: its own vectors
    assert fake_embedder == ["a dog"]


def test_cached_vectors_survive_reopening_the_study(tmp_path, fake_embedder):
    from semclust.study.workspace import Study

    with Study(tmp_path / "s") as study:
        first = study.embed_texts(["a", "b"], "fake:v1")
    fake_embedder.clear()
    with Study(tmp_path / "s") as study:
        np.testing.assert_array_equal(study.embed_texts(["b", "a"], "fake:v1"), first[::-1])
    assert fake_embedder == []
