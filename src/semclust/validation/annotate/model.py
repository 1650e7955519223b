"""What the coding app works with: tasks, units, coders, answers, and valid coder names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from semclust.core.errors import SemclustError
from semclust.validation.sampling import SamplingError, check_names

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
            # Offered themes are suggestions, not content: a restart without --themes is the same task.
            "settings": {k: v for k, v in self.settings.items() if k != "themes"},
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


def check_coder(name: str) -> str:
    """Coder names become column names of the export: letters, digits, ``_ . -``."""
    try:
        check_names([name], "coder")
    except SamplingError as exc:
        raise AnnotationError(str(exc)) from exc
    if name in RESERVED_NAMES:
        raise AnnotationError(f"coder name {name!r} is taken by a column of the export")
    return name
