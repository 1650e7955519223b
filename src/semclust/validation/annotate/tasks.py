"""Coding tasks in the study database: units, coders' unit orders and slots, answers.

A *task* is one sample from ``semclust sample`` (pairs, interpretability, consistency or
ratings; read by :mod:`.samples`) turned into *units*, the things a coder answers one at
a time: a pair of images, a set of images, one item, one image to rate on scales. Units
and answers live in the study's SQLite database, so a coder can close the tab and continue
later, and several coders can work at once.

Each coder sees the units in an order of their own, a permutation drawn from the task's
seed and the coder's name and recorded in the database, so that order effects (fatigue,
anchoring on the first images) average out over coders instead of piling on the same
units. In a rating task each coder is given one *slot* of the plan (the least used of
their group) and sees only its images. What a coder must not see -- the cluster an
interpretability set came from, the cluster of a consistency item -- is kept in ``key``
fields that the app never renders.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semclust.core.store import DB_NAME
from semclust.core.store.db import connect
from semclust.core.store.store import now_iso
from semclust.validation.annotate.codebook import codebook_themes, with_themes
from semclust.validation.annotate.model import (  # noqa: F401  (re-exported: the names the rest of the app imports from here)
    BINARY_LABELS,
    GRADED_LABELS,
    KINDS,
    MAX_THEME_LENGTH,
    RESERVED_NAMES,
    AnnotationError,
    Answer,
    Coder,
    Task,
    TaskSpec,
    Unit,
    check_coder,
)
from semclust.validation.annotate.samples import (  # noqa: F401  (re-exported)
    check_items,
    default_task_name,
    read_sample,
    study_images,
)
from semclust.validation.annotate.scales import Scale, stored_scales
from semclust.validation.evaluate.codes import BINARY_DIMENSIONS
from semclust.validation.sampling import SamplingError, check_names

log = logging.getLogger(__name__)


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
    themes: str | Path | None = None,
) -> Task:
    """Read a sample file, check its images against the study and store it as a task.

    ``name`` defaults to the sample's file name without ``.csv`` (and without the
    ``-key``/``-answers`` ending of interpretability files). Loading the same sample again
    returns the stored task with its answers. ``grouped``, ``scales``: see :func:`read_sample`.
    ``themes``: a REFI-QDA codebook whose codes a consistency task's coders are offered.
    """
    path = Path(path)
    spec = read_sample(path, grouped=grouped, scales=scales)
    if themes is not None:
        spec = with_themes(spec, codebook_themes(themes), path.name)
    check_items(spec, study_images(folder), path.name)
    task = store.add_task(name or default_task_name(path), spec, str(path.resolve()), seed)
    if themes is not None and task.spec.settings.get("themes") != spec.settings["themes"]:
        raise AnnotationError(f"task {task.name!r} was started with another theme list than "
                              f"{Path(themes).name}; serve it without --themes, or load the sample "
                              "under a new --name")
    return task


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
    codebook = task.spec.settings.get("codebook")
    if codebook:  # a codes sample: one of the codes, or none of them
        if theme not in [c["name"] for c in codebook] + [task.spec.settings["no_code"]]:
            raise AnnotationError("choose one of the codes, or none of these")
        return {"theme": theme}
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
