"""Coding tasks: a sample file loaded into the study database, and the coders' answers.

A *task* is one sample from ``semclust sample`` (pairs, interpretability, consistency or
ratings) turned into *units*, the things a coder answers one at a time: a pair of images,
a set of images, one item, one image to rate on scales. Units and answers live in the study's SQLite database, so a coder
can close the tab and continue later, and several coders can work at once.

Each coder sees the units in an order of their own, a permutation drawn from the task's
seed and the coder's name and recorded in the database, so that order effects (fatigue,
anchoring on the first images) average out over coders instead of piling on the same
units. In a rating task each coder is given one *slot* of the plan (the least used of
their group) and sees only its images. What a coder must not see -- the cluster an interpretability set came from, the
cluster of a consistency item -- is kept in ``key`` fields that the app never renders.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SemclustError
from ..evaluate.codes import BINARY_DIMENSIONS, DIMENSIONS, GRADED_DIMENSIONS
from ..sampling import SamplingError, check_names, read_csv
from ..store import DB_NAME, StudyStore
from ..store.db import connect
from ..store.store import now_iso
from .scales import Scale, scale_settings, stored_scales

log = logging.getLogger(__name__)

KINDS = ("pairs", "interpretability", "consistency", "ratings")
#: The 3-point scale of Arminio et al., stored as 0/1/2.
GRADED_LABELS = ("unrelated", "loosely related", "closely related")
#: The binary ``same`` judgement of Casas et al.
BINARY_LABELS = ("different", "belong together")
#: Coder names that would clash with the columns of an exported file.
RESERVED_NAMES = frozenset(
    {"id", "id_a", "id_b", "pair", "cluster", "set_id", "true_cluster", "coder", "slot"}
)
#: Longest theme a coder may type: a theme is a short label, not a note.
MAX_THEME_LENGTH = 200
_INTERPRETABILITY_FILES = ("-answers.csv", "-key.csv", "-letters.csv")


class AnnotationError(SemclustError, ValueError):
    """A task or an answer that cannot be used as given; the message names the value."""


@dataclass(frozen=True)
class Unit:
    """One thing to code.

    Attributes
    ----------
    position : int
        Row of the sample file (0-based); answers refer to it.
    unit : str
        The sample's own name for it: pair number, set id or item id.
    items : tuple of str
        Item ids of the images shown.
    content : dict
        Text shown beside the images (``text``: post text), untrusted.
    key : dict
        Never shown to coders: ``true_cluster`` (interpretability), ``cluster`` (consistency).
    """

    position: int
    unit: str
    items: tuple[str, ...]
    content: dict = field(default_factory=dict)
    key: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaskSpec:
    """What a sample file asks coders to do, before it is stored.

    ``settings`` is shown to coders (``dimensions`` of pairs, lettered ``descriptions`` of
    an interpretability test); ``key`` is not (``clusters``: letter -> cluster).
    """

    kind: str
    units: tuple[Unit, ...]
    settings: dict = field(default_factory=dict)
    key: dict = field(default_factory=dict)

    def content_hash(self) -> str:
        """A fingerprint of the content, so a changed sample cannot silently reuse answers."""
        data = {
            "kind": self.kind,
            "settings": self.settings,
            "key": self.key,
            "units": [[u.unit, list(u.items), u.content, u.key] for u in self.units],
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Task:
    """A stored task: its spec and where it came from."""

    id: int
    name: str
    source: str
    seed: int
    spec: TaskSpec

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def units(self) -> tuple[Unit, ...]:
        return self.spec.units

    @property
    def item_ids(self) -> frozenset[str]:
        """Every image the task shows: the only ones the app serves."""
        return frozenset(i for unit in self.units for i in unit.items)


@dataclass(frozen=True)
class Coder:
    """A coder of a task: their group attributes, plan slot, and whether they were removed."""

    name: str
    attributes: dict
    slot: int | None
    created_at: str
    removed_at: str | None
    former_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """A coder's answer to one unit; ``value`` is None for a skipped unit."""

    position: int
    coder: str
    status: str
    value: dict | None
    created_at: str
    updated_at: str


# --- reading a sample file -----------------------------------------------------------------


def read_sample(
    path: str | Path, *, grouped: bool = False, scales: list[Scale] | None = None
) -> TaskSpec:
    """Turn a sample file written by ``semclust sample`` into a task spec.

    The kind is told by the columns: ``id_a``/``id_b`` (pairs), ``set_id`` (any of the
    interpretability files: the key and letters beside it are read), ``id`` with
    ``theme`` columns (consistency). ``grouped`` (consistency only) shows a cluster's
    items one after the other, as Zhang and Leung's coders saw them (Appendix E), instead
    of mixing all clusters. A ratings plan (``id`` and ``slot``) needs ``scales``.

    Raises
    ------
    AnnotationError
        An unreadable file, an unknown layout, an empty or duplicated unit, a bad code.
    """
    path = Path(path)
    table = _read(path, "sample")
    columns = set(table.columns)
    is_consistency = "id" in columns and any(_is_theme(c) for c in columns)
    if grouped and not (is_consistency and "cluster" in columns):
        raise AnnotationError(
            f"{path.name}: only a consistency sample with a cluster column can be grouped"
        )
    if {"id_a", "id_b"} <= columns:
        return _pairs_spec(table, path.name)
    if {"id", "slot"} <= columns:
        if not scales:
            raise AnnotationError(
                f"{path.name} is a rating study: say what coders rate with --scales "
                "(a preset such as emotions-casas, or a YAML/TOML file)"
            )
        return _ratings_spec(table, path, scales)
    if "set_id" in columns or {"letter", "description"} <= columns:
        return _interpretability_spec(_interpretability_prefix(path))
    if is_consistency:
        return _consistency_spec(table, path, grouped)
    if {"item", "weight"} <= columns:
        raise AnnotationError(
            f"{path.name} is a stratified sample, coded with a study's own coding manual in "
            "the CSV itself; the app codes pairs, interpretability and consistency samples"
        )
    raise AnnotationError(
        f"{path.name} is not a sample the app knows: expected id_a and id_b (pairs), set_id "
        f"(interpretability) or id and theme (consistency); it has {list(table.columns)}"
    )


def _read(path: Path, what: str) -> pd.DataFrame:
    try:
        table = read_csv(path, what)
    except SamplingError as exc:
        raise AnnotationError(str(exc)) from exc
    if table.empty:
        raise AnnotationError(f"{path.name} has no rows: there is nothing to code")
    return table


def _pairs_spec(table: pd.DataFrame, name: str) -> TaskSpec:
    """Pairs rated on the dimensions the sample has code columns for (default: both graded)."""
    present = {c.split("_", 1)[0] for c in table.columns if c.split("_", 1)[0] in DIMENSIONS}
    dimensions = [d for d in DIMENSIONS if d in present] or list(GRADED_DIMENSIONS)
    names = table["pair"] if "pair" in table.columns else pd.Series(range(1, len(table) + 1))
    units = []
    for position, (unit, a, b) in enumerate(zip(names, table["id_a"], table["id_b"], strict=True)):
        where = f"line {position + 2} of {name}"
        a, b = _required(a, "id_a", where), _required(b, "id_b", where)
        if a == b:
            raise AnnotationError(f"{where}: pairs image {a!r} with itself")
        units.append(Unit(position, _required(str(unit), "pair", where), (a, b)))
    return TaskSpec("pairs", _unique(units, name), settings={"dimensions": dimensions})


def _interpretability_prefix(path: Path) -> Path:
    for suffix in _INTERPRETABILITY_FILES:
        if path.name.endswith(suffix):
            return path.with_name(path.name.removesuffix(suffix))
    raise AnnotationError(
        f"{path.name}: give the -key.csv (or -answers.csv) file of an interpretability sample, "
        "which has the key and letters files beside it"
    )


def _interpretability_spec(prefix: Path) -> TaskSpec:
    """Sets from the key (their true cluster kept hidden), descriptions from the letters."""
    key_path = prefix.with_name(prefix.name + "-key.csv")
    letters_path = prefix.with_name(prefix.name + "-letters.csv")
    key, letters = _read(key_path, "key"), _read(letters_path, "letters")
    _require(key, ("set_id", "true_cluster", "items"), key_path.name)
    _require(letters, ("letter", "cluster", "description"), letters_path.name)
    offered = {}
    for line, (letter, cluster) in enumerate(
        zip(letters["letter"], letters["cluster"], strict=True), start=2
    ):
        where = f"line {line} of {letters_path.name}"
        letter = _required(letter, "letter", where).upper()
        if letter in offered:
            raise AnnotationError(f"{where}: letter {letter!r} appears twice")
        offered[letter] = _cluster(cluster, "cluster", where)
    units = []
    for position, row in enumerate(key.to_dict(orient="records")):
        where = f"line {position + 2} of {key_path.name}"
        items = tuple(i.strip() for i in row["items"].split(";") if i.strip())
        if not items:
            raise AnnotationError(f"{where}: the set has no items")
        truth = _cluster(row["true_cluster"], "true_cluster", where)
        if truth not in offered.values():
            raise AnnotationError(f"{where}: true_cluster {truth} has no letter in the letters")
        set_id = _required(row["set_id"], "set_id", where)
        units.append(Unit(position, set_id, items, key={"true_cluster": truth}))
    descriptions = [
        [letter.strip().upper(), text]
        for letter, text in zip(letters["letter"], letters["description"], strict=True)
    ]
    return TaskSpec(
        "interpretability",
        _unique(units, key_path.name),
        settings={"descriptions": descriptions},
        key={"clusters": offered, "run": _first_value(key, "run")},
    )


def _consistency_spec(table: pd.DataFrame, path: Path, grouped: bool) -> TaskSpec:
    """Items with their post text (the sample's text column); the cluster id stays hidden."""
    text_column = _text_column(table, path)
    units = []
    for position, row in enumerate(table.to_dict(orient="records")):
        where = f"line {position + 2} of {path.name}"
        item = _required(row["id"], "id", where)
        content = {"text": row[text_column]} if text_column and row[text_column].strip() else {}
        key = {"cluster": row["cluster"].strip()} if "cluster" in row else {}
        units.append(Unit(position, item, (item,), content=content, key=key))
    settings = {"text": text_column, "grouped": grouped}
    return TaskSpec("consistency", _unique(units, path.name), settings=settings)


def _ratings_spec(table: pd.DataFrame, path: Path, scales: list[Scale]) -> TaskSpec:
    """One unit per image; its cluster and plan slot stay hidden, groups from the sidecar."""
    units = []
    for position, row in enumerate(table.to_dict(orient="records")):
        where = f"line {position + 2} of {path.name}"
        item = _required(row["id"], "id", where)
        slot = _cluster(row["slot"], "slot", where)
        key = {"slot": slot} | ({"cluster": row["cluster"].strip()} if "cluster" in row else {})
        units.append(Unit(position, item, (item,), key=key))
    settings = {
        "scales": scale_settings(scales),
        "groups": _sidecar(path).get("parameters", {}).get("groups"),
        "slots": len({u.key["slot"] for u in units}),
    }
    return TaskSpec("ratings", _unique(units, path.name), settings=settings)


def _sidecar(path: Path) -> dict:
    """The JSON sidecar ``semclust sample`` wrote beside a sample (empty when absent)."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return {}
    try:
        record = json.loads(sidecar.read_text())
    except json.JSONDecodeError:
        log.warning("cannot read the sidecar %s", sidecar)
        return {}
    return record if isinstance(record, dict) else {}


def _text_column(table: pd.DataFrame, path: Path) -> str | None:
    """The post-text column the sample was drawn with (its JSON sidecar), else ``text``."""
    sidecar = path.with_suffix(".json")
    column = None
    if sidecar.is_file():
        try:
            column = json.loads(sidecar.read_text()).get("parameters", {}).get("text_column")
        except (json.JSONDecodeError, AttributeError):
            log.warning("cannot read the sidecar %s; looking for a 'text' column", sidecar)
    column = column or ("text" if "text" in table.columns else None)
    if column is not None and column not in table.columns:
        raise AnnotationError(f"{path.name} lacks the post-text column {column!r} of its sidecar")
    return column


def _is_theme(column: str) -> bool:
    return column == "theme" or column.startswith("theme_")


def _require(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise AnnotationError(f"{name} lacks the column(s) {missing}; it has {list(table.columns)}")


def _required(value: str, column: str, where: str) -> str:
    value = value.strip()
    if not value:
        raise AnnotationError(f"{where}: {column} is empty")
    return value


def _cluster(value: str, column: str, where: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise AnnotationError(f"{where}: {column} {value!r} is not a cluster id") from None


def _first_value(table: pd.DataFrame, column: str) -> str | None:
    return (table[column].iloc[0] or None) if column in table.columns else None


def _unique(units: list[Unit], name: str) -> tuple[Unit, ...]:
    seen: dict[str, int] = {}
    for unit in units:
        if unit.unit in seen:
            raise AnnotationError(
                f"line {unit.position + 2} of {name}: {unit.unit!r} appears twice "
                f"(first at line {seen[unit.unit] + 2})"
            )
        seen[unit.unit] = unit.position
    return tuple(units)


# --- the study's images ----------------------------------------------------------------------


def study_images(folder: str | Path) -> dict[str, str]:
    """Image path of every readable item of the study, by id: all the app may serve."""
    folder = Path(folder)
    if not (folder / DB_NAME).is_file():
        raise AnnotationError(f"{folder} is not a study (no {DB_NAME}): run `semclust ingest`")
    store = StudyStore(folder)
    try:
        return {row.id: row.path for row in store.items() if row.status == "ok"}
    finally:
        store.close()


def check_items(spec: TaskSpec, images: dict[str, str], source: str) -> None:
    """Every image a unit shows is a readable image of the study."""
    for unit in spec.units:
        for item in unit.items:
            if item not in images:
                raise AnnotationError(
                    f"{source}, unit {unit.unit!r}: image {item!r} is not a readable image "
                    "of this study (was the sample drawn from another study?)"
                )


def check_coder(name: str) -> str:
    """Coder names become column names of the export: letters, digits, ``_ . -``."""
    try:
        check_names([name], "coder")
    except SamplingError as exc:
        raise AnnotationError(str(exc)) from exc
    if name in RESERVED_NAMES:
        raise AnnotationError(f"coder name {name!r} is taken by a column of the export")
    return name


# --- the database ----------------------------------------------------------------------------


class AnnotationStore:
    """Tasks, coders' unit orders and answers in the study database (thread-safe)."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        if not (folder / DB_NAME).is_file():
            raise AnnotationError(f"{folder} is not a study (no {DB_NAME}): run `semclust ingest`")
        self._conn = connect(folder / DB_NAME)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AnnotationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _rows(self, sql: str, params: Sequence = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _write(self, statements: Iterable[tuple[str, Sequence]]) -> None:
        """Run the statements in one transaction: all of them are stored, or none."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._conn.execute(sql, params)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- tasks ------------------------------------------------------------
    def add_task(self, name: str, spec: TaskSpec, source: str, seed: int) -> Task:
        """Store a new task, or return the stored one when it has the same content and seed."""
        try:
            check_names([name], "task")
        except SamplingError as exc:
            raise AnnotationError(f"{exc}; choose a task name with --name") from exc
        existing = self._rows(
            "SELECT source_hash, seed, source FROM annotation_tasks WHERE name=?", (name,)
        )
        if existing:
            row = existing[0]
            if row["source_hash"] != spec.content_hash():
                raise AnnotationError(
                    f"task {name!r} already exists with other content (from {row['source']}), "
                    "and coders' answers belong to it; give this sample another name with --name"
                )
            if row["seed"] != seed:
                raise AnnotationError(
                    f"task {name!r} was started with seed {row['seed']}, not {seed}: coders' "
                    "unit orders depend on it"
                )
            return self.task(name)
        statements = [
            (
                "INSERT INTO annotation_tasks (name, kind, source, source_hash, seed, settings,"
                " key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    spec.kind,
                    source,
                    spec.content_hash(),
                    seed,
                    _dump(spec.settings),
                    _dump(spec.key),
                    now_iso(),
                ),
            )
        ]
        statements += [
            (
                "INSERT INTO annotation_units (task_id, position, unit, items, content, key)"
                " VALUES ((SELECT id FROM annotation_tasks WHERE name=?), ?, ?, ?, ?, ?)",
                (name, u.position, u.unit, _dump(list(u.items)), _dump(u.content), _dump(u.key)),
            )
            for u in spec.units
        ]
        self._write(statements)
        log.info("stored task %r: %d %s units from %s", name, len(spec.units), spec.kind, source)
        return self.task(name)

    def task(self, name: str) -> Task:
        rows = self._rows("SELECT * FROM annotation_tasks WHERE name=?", (name,))
        if not rows:
            known = ", ".join(self.task_names()) or "none yet"
            raise AnnotationError(f"no task named {name!r} in this study (tasks: {known})")
        row = rows[0]
        units = tuple(
            Unit(
                u["position"],
                u["unit"],
                tuple(json.loads(u["items"])),
                json.loads(u["content"]),
                json.loads(u["key"]),
            )
            for u in self._rows(
                "SELECT * FROM annotation_units WHERE task_id=? ORDER BY position", (row["id"],)
            )
        )
        spec = TaskSpec(row["kind"], units, json.loads(row["settings"]), json.loads(row["key"]))
        return Task(row["id"], row["name"], row["source"], row["seed"], spec)

    def task_names(self) -> list[str]:
        return [r["name"] for r in self._rows("SELECT name FROM annotation_tasks ORDER BY id")]

    # --- coders -----------------------------------------------------------
    def add_coder(
        self,
        task: Task,
        name: str,
        *,
        attributes: dict | None = None,
        session_key: str | None = None,
    ) -> Coder:
        """Start a new coder: draw their unit order (and, in a rating task, their slot).

        Coders come into being only here, when someone starts to code. ``session_key``
        binds the coder to the browser that holds it (only its hash is stored).

        Raises
        ------
        AnnotationError
            A bad name, a name already taken in this task, or a group the task lacks.
        """
        check_coder(name)
        attributes = check_attributes(task, attributes or {})
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")  # slot counts and insert in one transaction
            try:
                taken = self._conn.execute(
                    "SELECT 1 FROM annotation_coders WHERE task_id=? AND coder=?", (task.id, name)
                ).fetchone()
                if taken:
                    raise AnnotationError(f"the coder name {name!r} is taken in this task")
                seed = coder_seed(task.seed, name)
                slot = self._free_slot(task, attributes) if task.kind == "ratings" else None
                self._conn.execute(
                    "INSERT INTO annotation_coders (task_id, coder, seed, unit_order, created_at,"
                    " attributes, session_hash, slot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        task.id,
                        name,
                        seed,
                        _dump(unit_order(task, seed, slot)),
                        now_iso(),
                        _dump(attributes),
                        session_key and key_hash(session_key),
                        slot,
                    ),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        log.debug("coder %r started task %r %s", name, task.name, attributes or "")
        return self.coder(task, name)

    def _free_slot(self, task: Task, attributes: dict) -> int:
        """The plan slot fewest coders of this group have (removed coders do not count)."""
        group = _group_value(task, attributes)
        used = Counter(
            row["slot"]
            for row in self._conn.execute(
                "SELECT slot, attributes FROM annotation_coders"
                " WHERE task_id=? AND removed_at IS NULL",
                (task.id,),
            )
            if _group_value(task, json.loads(row["attributes"])) == group
        )
        slots = sorted({u.key["slot"] for u in task.units})
        return min(slots, key=lambda slot: (used[slot], slot))

    def coder(self, task: Task, name: str) -> Coder | None:
        """The coder of that name (removed ones too), or None."""
        rows = self._rows(
            "SELECT * FROM annotation_coders WHERE task_id=? AND coder=?", (task.id, name)
        )
        return _coder_from(rows[0]) if rows else None

    def coder_rows(self, task: Task, *, removed: bool = False) -> list[Coder]:
        """Coders in the order they started (the export's column order); removed ones on request."""
        where = "" if removed else " AND removed_at IS NULL"
        return [
            _coder_from(r)
            for r in self._rows(
                f"SELECT * FROM annotation_coders WHERE task_id=?{where} ORDER BY created_at, rowid",
                (task.id,),
            )
        ]

    def coders(self, task: Task) -> list[str]:
        """Names of the task's coders who have not been removed, in the order they started."""
        return [c.name for c in self.coder_rows(task)]

    def coder_order(self, task: Task, coder: str) -> list[int]:
        """The coder's unit positions in the order shown (drawn when they started)."""
        rows = self._rows(
            "SELECT unit_order FROM annotation_coders WHERE task_id=? AND coder=?", (task.id, coder)
        )
        if not rows:
            raise AnnotationError(f"task {task.name!r} has no coder {coder!r}")
        return json.loads(rows[0]["unit_order"])

    def session_matches(self, task: Task, coder: str, session_key: str) -> bool:
        """Whether ``session_key`` is the one the coder's browser was given."""
        rows = self._rows(
            "SELECT session_hash FROM annotation_coders WHERE task_id=? AND coder=?",
            (task.id, coder),
        )
        stored = rows[0]["session_hash"] if rows else None
        return stored is not None and hmac.compare_digest(stored, key_hash(session_key))

    def remove_coder(self, task: Task, name: str) -> None:
        """Mark a coder removed: their answers stay in the database but leave every export."""
        found = self.coder(task, name)
        if found is None or found.removed_at:
            raise AnnotationError(f"task {task.name!r} has no coder {name!r} to remove")
        self._write(
            [
                (
                    "UPDATE annotation_coders SET removed_at=? WHERE task_id=? AND coder=?",
                    (now_iso(), task.id, name),
                )
            ]
        )

    def rename_coder(self, task: Task, old: str, new: str) -> None:
        """Give a coder (and their answers) a new name; the old one is kept in ``former_names``."""
        check_coder(new)
        found = self.coder(task, old)
        if found is None:
            raise AnnotationError(f"task {task.name!r} has no coder {old!r} to rename")
        if self.coder(task, new) is not None:
            raise AnnotationError(f"the coder name {new!r} is taken in this task")
        former = _dump([*found.former_names, old])
        self._write(
            [
                ("PRAGMA defer_foreign_keys=ON", ()),  # answers and coder change together
                (
                    "UPDATE annotation_coders SET coder=?, former_names=? WHERE task_id=? AND coder=?",
                    (new, former, task.id, old),
                ),
                (
                    "UPDATE annotation_answers SET coder=? WHERE task_id=? AND coder=?",
                    (new, task.id, old),
                ),
            ]
        )

    # --- fielding -----------------------------------------------------------
    def fielding(self, task: Task) -> dict:
        """How the task is fielded: the secret of its links, completion URL, links-only."""
        row = self._rows("SELECT fielding FROM annotation_tasks WHERE id=?", (task.id,))[0]
        fielding = json.loads(row["fielding"])
        if "secret" not in fielding:  # drawn once, kept, so links survive a restart
            fielding["secret"] = secrets.token_urlsafe(32)
            self.set_fielding(task, secret=fielding["secret"])
        return fielding

    def set_fielding(self, task: Task, **values) -> dict:
        """Update fielding settings (a value of None removes the setting)."""
        with self._lock:
            row = self._rows("SELECT fielding FROM annotation_tasks WHERE id=?", (task.id,))[0]
            fielding = json.loads(row["fielding"]) | values
            fielding = {k: v for k, v in fielding.items() if v is not None}
            self._write(
                [("UPDATE annotation_tasks SET fielding=? WHERE id=?", (_dump(fielding), task.id))]
            )
        return fielding

    # --- answers ----------------------------------------------------------
    def save(self, task: Task, coder: str, position: int, value: dict | None) -> None:
        """Store (or replace) an answer at once; ``value=None`` records a skip.

        A skip never erases an answer: skipping a unit already answered keeps the answer.
        """
        if not 0 <= position < len(task.units):
            raise AnnotationError(f"task {task.name!r} has no unit at position {position}")
        if position not in self.coder_order(task, coder):
            raise AnnotationError(f"unit at position {position} is not one of {coder!r}'s units")
        stamp = now_iso()
        if value is None:
            sql = (
                "INSERT INTO annotation_answers (task_id, position, coder, status, answer,"
                " created_at, updated_at) VALUES (?, ?, ?, 'skipped', NULL, ?, ?)"
                " ON CONFLICT DO NOTHING"
            )
            params: tuple = (task.id, position, coder, stamp, stamp)
        else:
            sql = (
                "INSERT INTO annotation_answers (task_id, position, coder, status, answer,"
                " created_at, updated_at) VALUES (?, ?, ?, 'answered', ?, ?, ?)"
                " ON CONFLICT (task_id, position, coder) DO UPDATE SET status='answered',"
                " answer=excluded.answer, updated_at=excluded.updated_at"
            )
            params = (task.id, position, coder, _dump(value), stamp, stamp)
        self._write([(sql, params)])

    def answers(self, task: Task, coder: str | None = None) -> list[Answer]:
        """Answers and skips of one coder, or of all coders not removed."""
        sql = (
            "SELECT * FROM annotation_answers WHERE task_id=? AND coder NOT IN (SELECT coder FROM"
            " annotation_coders WHERE task_id=? AND removed_at IS NOT NULL)"
        )
        params: tuple = (task.id, task.id)
        if coder is not None:
            sql, params = sql + " AND coder=?", (*params, coder)
        return [
            Answer(
                r["position"],
                r["coder"],
                r["status"],
                None if r["answer"] is None else json.loads(r["answer"]),
                r["created_at"],
                r["updated_at"],
            )
            for r in self._rows(sql + " ORDER BY position, coder", params)
        ]


def load_task(
    store: AnnotationStore,
    folder: str | Path,
    path: str | Path,
    *,
    name: str | None = None,
    seed: int = 0,
    grouped: bool = False,
    scales: list[Scale] | None = None,
) -> Task:
    """Read a sample file, check its images against the study and store it as a task.

    ``name`` defaults to the sample's file name without ``.csv`` (and without the
    ``-key``/``-answers`` ending of interpretability files). Loading the same sample again
    returns the stored task with its answers. ``grouped``, ``scales``: see :func:`read_sample`.
    """
    path = Path(path)
    spec = read_sample(path, grouped=grouped, scales=scales)
    check_items(spec, study_images(folder), path.name)
    return store.add_task(name or default_task_name(path), spec, str(path.resolve()), seed)


def default_task_name(path: Path) -> str:
    stem = path.name
    for suffix in (*_INTERPRETABILITY_FILES, ".csv"):
        stem = stem.removesuffix(suffix)
    return stem


def unit_order(task: Task, seed: int, slot: int | None = None) -> list[int]:
    """Unit positions in random order; grouped tasks keep each cluster's units together.

    With a ``slot`` (rating tasks), only the units of that slot of the plan.
    """
    rng = np.random.default_rng(seed)
    if slot is not None:
        return rng.permutation([u.position for u in task.units if u.key["slot"] == slot]).tolist()
    if not task.spec.settings.get("grouped"):
        return rng.permutation(len(task.units)).tolist()
    groups: dict[str, list[int]] = {}
    for unit in task.units:
        groups.setdefault(unit.key["cluster"], []).append(unit.position)
    members = list(groups.values())
    return [p for g in rng.permutation(len(members)) for p in rng.permutation(members[g]).tolist()]


def group_of(task: Task, order: Sequence[int], position: int) -> tuple[int, int]:
    """``(group number, number of groups)`` of a unit of a grouped task, in the coder's order.

    Numbers, not cluster ids: the coder learns which items belong together, not the run's
    labels.
    """
    clusters = list(dict.fromkeys(task.units[p].key["cluster"] for p in order))
    return clusters.index(task.units[position].key["cluster"]) + 1, len(clusters)


def check_attributes(task: Task, attributes: dict) -> dict:
    """A coder's attributes: the task's group attribute must be one of its values."""
    groups = task.spec.settings.get("groups")
    attributes = {str(k): str(v) for k, v in attributes.items()}
    if groups:
        value = attributes.get(groups["attribute"])
        if value not in groups["values"]:
            raise AnnotationError(
                f"choose your {groups['attribute']}: one of {', '.join(groups['values'])}"
            )
    return attributes


def _group_value(task: Task, attributes: dict) -> str | None:
    groups = task.spec.settings.get("groups")
    return attributes.get(groups["attribute"]) if groups else None


def _coder_from(row: sqlite3.Row) -> Coder:
    return Coder(
        row["coder"],
        json.loads(row["attributes"]),
        row["slot"],
        row["created_at"],
        row["removed_at"],
        tuple(json.loads(row["former_names"])),
    )


def key_hash(session_key: str) -> str:
    """What the database keeps of a browser's session key: its SHA-256, never the key."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def coder_seed(task_seed: int, coder: str) -> int:
    """The seed of a coder's unit order: the task's seed mixed with the coder's name."""
    digest = hashlib.sha256(f"{task_seed}:{coder}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


# --- answers: validation and progress --------------------------------------------------------


def scale_labels(dimension: str) -> tuple[str, ...]:
    """The labels of a dimension's codes, code 0 first."""
    return BINARY_LABELS if dimension in BINARY_DIMENSIONS else GRADED_LABELS


def parse_answer(task: Task, form: dict[str, str]) -> dict:
    """A coder's submitted form as the value to store, or an error a coder can act on."""
    if task.kind == "pairs":
        return {d: _code(form.get(d, ""), d) for d in task.spec.settings["dimensions"]}
    if task.kind == "ratings":
        return {s.name: _rating(form.get(s.name, ""), s) for s in task_scales(task)}
    if task.kind == "interpretability":
        letter = form.get("letter", "").strip().upper()
        offered = [letter for letter, _ in task.spec.settings["descriptions"]]
        if letter not in offered:
            raise AnnotationError("choose one of the descriptions' letters")
        return {"letter": letter}
    theme = " ".join(form.get("theme", "").split())
    if not theme:
        raise AnnotationError("type a theme (or skip the item)")
    if len(theme) > MAX_THEME_LENGTH:
        raise AnnotationError(f"a theme is a short label: at most {MAX_THEME_LENGTH} characters")
    return {"theme": theme}


def _code(value: str, dimension: str) -> int:
    allowed = [str(code) for code in range(len(scale_labels(dimension)))]
    if value.strip() not in allowed:
        raise AnnotationError(f"rate the {dimension} similarity: choose one of the options")
    return int(value)


def _rating(value: str, scale: Scale) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or not scale.low <= number <= scale.high:
        raise AnnotationError(
            f"rate '{scale.name}': choose a number from {scale.low} to {scale.high}"
        )
    return number


def task_scales(task: Task) -> list[Scale]:
    """The scales a rating task asks for."""
    return stored_scales(task.spec.settings["scales"])


@dataclass(frozen=True)
class Progress:
    """Where one coder stands: units answered and skipped, of ``total``."""

    done: int
    skipped: int
    total: int


def progress(order: Sequence[int], answers: Sequence[Answer]) -> Progress:
    """A coder's progress through their ``order`` (a rating coder's is their slot only)."""
    status = [a.status for a in answers]
    return Progress(status.count("answered"), status.count("skipped"), len(order))


def next_index(order: Sequence[int], answers: Sequence[Answer], after: int = -1) -> int | None:
    """The index (in ``order``) of the coder's next unit after index ``after``, or None.

    Units never seen come first, then skipped ones, each searched forward from ``after``
    and wrapping around, so a skip is asked again only once everything else is done.
    """
    status = {a.position: a.status for a in answers}
    n = len(order)
    ahead = [(after + step) % n for step in range(1, n + 1)]
    for wanted in (None, "skipped"):
        for index in ahead:
            if status.get(order[index]) == wanted:
                return index
    return None


def themes_used(answers: Iterable[Answer]) -> list[str]:
    """The themes a coder has typed so far, most used first, for autocomplete."""
    counts = Counter(a.value["theme"] for a in answers if a.value and "theme" in a.value)
    return [theme for theme, _ in counts.most_common()]


def _dump(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
