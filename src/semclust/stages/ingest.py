"""Ingest: turn a folder of images or a CSV/Parquet table into study items.

Every file is hashed (sha256 of its bytes: exact duplicates are described once)
and decoded once to check it, measure it and take its perceptual hash.  Files that
cannot be used are recorded with the reason and skipped, never a crash.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from semclust.core.errors import SemclustError
from semclust.core.imageio import DEFAULT_MAX_PIXELS, ImageReadError, open_image
from semclust.core.input_header import check_rows, empty_csv_error
from semclust.core.progress import enabled, make_progress
from semclust.core.store import ImageRow, ItemRow, StudyStore
from semclust.core.store.item_vectors import save_item_vectors

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}

#: Columns the store adds to every item; an input column of the same name would be hidden by them.
RESERVED_COLUMNS = ("sha256", "status", "error")


@dataclass
class IngestSummary:
    n_items: int = 0
    n_ok: int = 0
    n_errors: int = 0
    n_unique_images: int = 0
    n_exact_duplicates: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (id, what changed) of ids seen before
    near_duplicates: list[tuple[str, str, int]] = field(default_factory=list)  # (id_a, id_b, bits)


@dataclass
class _Probe:
    sha256: str | None
    image: ImageRow | None
    error: str | None


def read_input(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Rows ``id``, ``image`` (absolute path) and the user's own columns, in input order.

    A DataFrame is read like a CSV whose relative image paths start at the working directory.
    """
    if isinstance(source, pd.DataFrame):
        return _normalise_table(source.copy(), Path.cwd(), "the DataFrame")
    source = Path(source).expanduser()
    if source.is_dir():
        return _scan_folder(source)
    if not source.exists():
        raise SemclustError(f"input not found: {source}")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(source)
    elif suffix in (".parquet", ".pq"):
        table = _read_parquet(source)
    else:
        raise SemclustError(f"input must be a folder of images, a .csv or a .parquet file: {source}")
    check_rows(source, len(table), table.columns)
    return _normalise_table(table, source.parent.resolve(), source)


def _read_csv(source: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise empty_csv_error(source) from None


def _scan_folder(folder: Path) -> pd.DataFrame:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SemclustError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}")
    return pd.DataFrame(
        {"id": [p.relative_to(folder).as_posix() for p in paths], "image": [str(p.resolve()) for p in paths]}
    )


def _read_parquet(source: Path) -> pd.DataFrame:
    """A named index (``df.set_index("id").to_parquet()``) is data the user meant to keep."""
    table = pd.read_parquet(source)
    if any(name is not None for name in table.index.names):
        table = table.reset_index()
    return table


def _normalise_table(table: pd.DataFrame, base: Path, source: Path) -> pd.DataFrame:
    """Check the table and resolve paths; rows are named as in a spreadsheet (first data row = 2).

    A table without an ``image`` column is a text-only (or vectors-only) corpus: its items have
    no image (an empty path) and are clustered from a text column (``--describer column:NAME``)
    or from precomputed vectors (``--embedder column:NAME`` / ``npy:FILE``).
    """
    if "image" not in table.columns:
        log.info("%s has no 'image' column: its %d rows are items without images", source, len(table))
        table = table.assign(image="")
    clash = [c for c in RESERVED_COLUMNS if c in table.columns]
    if clash:
        raise SemclustError(f"{source}: the column name {clash[0]!r} is reserved by semclust; rename it")
    table = table.reset_index(drop=True)
    if "id" not in table.columns:
        table.insert(0, "id", [f"row{i}" for i in range(len(table))])
    _check_filled(table, "id", source)
    table["id"] = table["id"].astype(str)
    duplicated = table["id"].duplicated()
    if duplicated.any():
        value = table["id"][duplicated].iloc[0]
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(table["id"] == value))
        raise SemclustError(f"{source}: id {value!r} appears more than once (rows {rows})")
    if (table["image"] != "").any():
        _check_filled(table, "image", source)
        table["image"] = [str((base / str(p)).resolve()) for p in table["image"]]
    return table


def _check_filled(table: pd.DataFrame, column: str, source: Path) -> None:
    empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
    if empty.any():
        row = int(np.argmax(empty.to_numpy())) + 2
        raise SemclustError(f"{source}: row {row} has an empty {column!r} cell")


def probe_file(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> _Probe:
    """Hash and check one file; the reason is kept when it cannot be used."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return _Probe(None, None, f"cannot read file: {exc.strerror or exc}")
    sha = hashlib.sha256(data).hexdigest()
    try:
        img = open_image(path, max_pixels=max_pixels)
        with Image.open(path) as raw:
            fmt = raw.format
    except ImageReadError as exc:
        return _Probe(sha, None, str(exc))
    phash = str(imagehash.phash(img))
    return _Probe(sha, ImageRow(sha, phash, img.width, img.height, fmt, len(data)), None)


#: Rows written to the store together: a killed ingest keeps every finished chunk and a rerun
#: probes only the files after it.
INGEST_CHUNK = 2000
#: From this many files to probe, worker processes (every core) instead of threads.
PROCESS_POOL_FROM = 500


def ingest(
    store: StudyStore,
    source: str | Path | pd.DataFrame,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    near_duplicate_bits: int = 4,
    workers: int | None = None,
    progress: bool = True,
) -> IngestSummary:
    """Add the images of ``source`` to the study; files read fine before are not read again.

    Files that failed before are probed again: a missing file may have been added since.
    Rows are stored chunk by chunk as their files are probed, on ``workers`` processes (default:
    every core) when there are many files, so an ingest killed half-way resumes where it stopped.
    """
    table = read_input(source)
    table, vectors = split_vector_columns(table)
    existing = store.items()
    known = {row.path: row for row in existing if row.path}
    todo = set(p for p in table["image"] if p and (p not in known or known[p].status != "ok"))
    extra = [c for c in table.columns if c not in ("id", "image")]
    # ingest adds to a study: known ids keep their place, new ones go after every existing item
    positions = {row.id: row.position for row in existing}
    next_position = max(positions.values(), default=-1) + 1
    probes: dict[str, _Probe] = {}
    items: list[ItemRow] = []
    replaced: list[tuple[ItemRow, str]] = []
    # records, not itertuples: namedtuples rename columns such as "post text" or "class"
    records = table.to_dict("records")
    with _probe_pool(len(todo), workers) as pool, _ProbeProgress(len(todo), progress) as bar:
        for start in range(0, len(records), INGEST_CHUNK):
            chunk = records[start:start + INGEST_CHUNK]
            paths = [p for p in dict.fromkeys(r["image"] for r in chunk) if p in todo and p not in probes]
            for path, probe in zip(paths, pool.map(functools.partial(probe_file, max_pixels=max_pixels), paths,
                                                   **({"chunksize": 8} if isinstance(pool, ProcessPoolExecutor) else {})),
                                   strict=True):
                probes[path] = probe
                bar.advance()
            store.put_images(probes[p].image for p in paths if probes[p].image is not None)
            chunk_items = []
            for record in chunk:
                position = positions.get(record["id"])
                if position is None:
                    position = positions[record["id"]] = next_position
                    next_position += 1
                chunk_items.append(_item_row(record, position, extra, probes, known))
            chunk_replaced = replaced_versions(existing, chunk_items)
            store.put_item_versions(chunk_replaced)
            store.put_items(chunk_items)
            items += chunk_items
            replaced += chunk_replaced
    for column, matrix in vectors.items():
        save_item_vectors(store.folder, f"column:{column}", table["id"], matrix)
    summary = _summarise(store, items, near_duplicate_bits)
    summary.replaced = [(old.id, change) for old, change in replaced]
    return summary


def _item_row(record: dict, position: int, extra: list[str], probes: dict[str, _Probe],
              known: dict[str, ItemRow]) -> ItemRow:
    path = record["image"]
    meta = {c: _plain(record[c]) for c in extra}
    if not path:  # an item without an image: usable through its text or vectors
        return ItemRow(record["id"], position, path, None, "ok", None, meta)
    if path in probes:
        probe = probes[path]
        status = "ok" if probe.error is None else "error"
        return ItemRow(record["id"], position, path, probe.sha256, status, probe.error, meta)
    old = known[path]
    return ItemRow(record["id"], position, path, old.sha256, old.status, old.error, meta)


def _probe_pool(n_files: int, workers: int | None):
    """Processes for many files (hashing and decoding use every core), threads for a few."""
    workers = workers or os.cpu_count() or 1
    if n_files >= PROCESS_POOL_FROM and workers > 1 and main_module_is_spawn_safe():
        # spawn, not fork: the parent may hold threads (a progress bar, a server) that fork would copy mid-lock
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return ThreadPoolExecutor(max_workers=max(workers, 4))


def main_module_is_spawn_safe() -> bool:
    """Whether spawned workers can import ``__main__`` without re-running the user's work.

    A spawned process imports the parent's main script. A notebook or REPL has none, the
    ``semclust`` command and ``python -m pytest`` guard theirs, but a plain script that calls
    ``study.add(...)`` at top level would run again in every worker (and crash the pool, or
    worse, repeat paid calls). Such scripts get threads instead.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:
        return True  # a notebook or REPL: nothing to re-run
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
               and "__name__" in ast.unparse(node.test) for node in tree.body)


class _ProbeProgress:
    """A progress bar over files probed, across chunks."""

    def __init__(self, total: int, show: bool):
        self.total, self.show = total, show and total > 0 and enabled(show)
        self._progress = self._task = None

    def __enter__(self):
        if self.show:
            self._progress = make_progress()
            self._progress.__enter__()
            self._task = self._progress.add_task("Ingesting images", total=self.total)
        return self

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)


def replaced_versions(existing: list[ItemRow], items: list[ItemRow]) -> list[tuple[ItemRow, str]]:
    """The earlier version of every id this ingest changes, with what changed.

    Re-ingesting an id keeps its earlier version (the store's ``item_versions``; its image
    row and descriptions stay too, being keyed by content) and warns, instead of silently
    replacing it.
    """
    before = {row.id: row for row in existing}
    replaced = []
    for new in items:
        old = before.get(new.id)
        if old is None:
            continue
        changes = []
        if old.path != new.path:
            changes.append(f"image {old.path or '(none)'} -> {new.path or '(none)'}")
        if old.sha256 != new.sha256:
            changes.append("image content")
        if old.status != new.status:
            changes.append(f"status {old.status} -> {new.status}")
        columns = sorted(c for c in set(old.meta) | set(new.meta)
                         if _as_json(old.meta.get(c)) != _as_json(new.meta.get(c)))
        if columns:
            changes.append("columns " + ", ".join(columns))
        if changes:
            replaced.append((old, "; ".join(changes)))
    for old, change in replaced:
        log.warning("id %s was in the study already; now changed: %s (the earlier version is kept)", old.id, change)
    return replaced


def _as_json(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def split_vector_columns(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Take out Parquet columns of lists/arrays (precomputed embeddings) as float32 matrices.

    They are stored in bulk beside the database (``--embedder column:NAME``), not as JSON per
    item; a column whose cells differ in length or hold non-numbers is an error naming the row.
    """
    vectors = {}
    for column in table.columns:
        first = table[column].dropna().head(1)
        if first.empty or not isinstance(first.iloc[0], (list, tuple, np.ndarray)):
            continue
        cells = table[column]
        lengths = cells.map(lambda v: len(v) if isinstance(v, (list, tuple, np.ndarray)) else -1).to_numpy()
        bad = np.flatnonzero(lengths != lengths[cells.first_valid_index()])
        if len(bad):
            raise SemclustError(f"vector column {column!r}: row {bad[0] + 2} has {max(lengths[bad[0]], 0)} values, "
                                f"the first row {lengths[0]}; every row needs a vector of the same length")
        try:
            vectors[column] = np.asarray(np.stack(cells.to_numpy()), dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise SemclustError(f"vector column {column!r} holds values that are not numbers: {exc}") from exc
        if not np.isfinite(vectors[column]).all():
            row = int(np.flatnonzero(~np.isfinite(vectors[column]).all(axis=1))[0]) + 2
            raise SemclustError(f"vector column {column!r}: row {row} has NaN or infinite values")
    return table.drop(columns=list(vectors)), vectors


def _plain(value):
    """Parquet cells may be numpy scalars; the store keeps JSON."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _summarise(store: StudyStore, items: list[ItemRow], bits: int) -> IngestSummary:
    summary = IngestSummary(n_items=len(items))
    ok = [i for i in items if i.status == "ok" and i.sha256 is not None]
    summary.n_ok = sum(i.status == "ok" for i in items)
    summary.errors = [(i.id, i.error or "") for i in items if i.status != "ok"]
    summary.n_errors = len(summary.errors)
    shas = {i.sha256 for i in ok}
    summary.n_unique_images = len(shas)
    summary.n_exact_duplicates = len(ok) - len(shas)
    for e_id, reason in summary.errors:
        log.warning("skipped %s: %s", e_id, reason)
    images = store.images_frame()
    images = images[images["sha256"].isin(shas)]
    first_id = {}
    for item in ok:
        first_id.setdefault(item.sha256, item.id)
    summary.near_duplicates = [
        (first_id[a], first_id[b], d)
        for a, b, d in near_duplicate_pairs(images["sha256"].tolist(), images["phash"].tolist(), bits)
    ]
    return summary


def near_duplicate_pairs(keys: list[str], phashes: list[str], max_bits: int) -> list[tuple[str, str, int]]:
    """Pairs of distinct images whose 64-bit perceptual hashes differ in at most ``max_bits`` bits.

    Multi-index hashing: split each hash into ``max_bits + 1`` bands; by pigeonhole two
    hashes within ``max_bits`` agree exactly on at least one band, so only hashes that
    share a band are compared (near-linear instead of quadratic for large studies).
    """
    values = [int(h, 16) for h in phashes]
    n_bands = max_bits + 1
    width = 64 // n_bands
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for idx, value in enumerate(values):
        for band in range(n_bands):
            shift = band * width
            band_width = 64 - shift if band == n_bands - 1 else width
            buckets[(band, (value >> shift) & ((1 << band_width) - 1))].append(idx)
    pairs: dict[tuple[int, int], int] = {}
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pair = (min(a, b), max(a, b))
                if pair not in pairs:
                    distance = (values[a] ^ values[b]).bit_count()
                    if distance <= max_bits:
                        pairs[pair] = distance
    return sorted((keys[a], keys[b], d) for (a, b), d in pairs.items())
