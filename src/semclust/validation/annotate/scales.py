"""Rating scales: what a coder rates each image on, from a preset or a small YAML/TOML file.

A scale has a name (a column of the export), the question shown, the words at its low and
high ends, a range of whole numbers, and optionally the dimension it belongs to, so that
the analysis can average, e.g., hopeful, enthusiastic and proud into *enthusiasm*
(Casas et al. 3.2, after Marcus et al.). The file format::

    range: [1, 10]                       # default for every scale
    low: not at all
    high: very much
    scales:
      - name: hopeful
        question: How hopeful does this image make you feel?
        dimension: enthusiasm
      - {name: angry, dimension: aversion, low: calm, high: furious, range: [0, 6]}

TOML has the same keys, the scales as ``[[scales]]`` tables.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from semclust.core.errors import SemclustError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Scale names that would clash with the export's own columns.
_RESERVED = frozenset({"id", "cluster", "coder", "slot"})
#: Longest range a coder is asked to use (more points are not a rating but a guess).
MAX_POINTS = 101


class ScaleError(SemclustError, ValueError):
    """A scale file or preset that cannot be used; the message names the scale and the key."""


@dataclass(frozen=True)
class Scale:
    """One rating scale, ``low``..``high`` whole numbers."""

    name: str
    question: str
    low_label: str
    high_label: str
    low: int = 1
    high: int = 10
    dimension: str | None = None

    def keys(self) -> dict[int, str]:
        """The digit key of each value, when every value has one (1-10 uses 0 for 10)."""
        values = range(self.low, self.high + 1)
        if self.low >= 0 and self.high <= 9:
            return {v: str(v) for v in values}
        if self.low == 1 and self.high == 10:
            return {v: str(v % 10) for v in values}
        return {}

    def to_dict(self) -> dict:
        return asdict(self)


#: Casas et al. 3.2: ten emotions on three dimensions (Marcus et al. 2000), rated 1-10.
_EMOTIONS = {
    "enthusiasm": ("hopeful", "enthusiastic", "proud"),
    "aversion": ("angry", "resentful", "bitter", "hateful"),
    "anxiety": ("worried", "scared", "afraid"),
}
PRESETS: dict[str, list[Scale]] = {
    "emotions-casas": [
        Scale(
            name,
            f"How {name} does this image make you feel?",
            "not at all",
            "extremely",
            1,
            10,
            dimension,
        )
        for dimension, names in _EMOTIONS.items()
        for name in names
    ]
}


def load_scales(spec: str | Path) -> list[Scale]:
    """The scales of a preset name (``emotions-casas``) or of a YAML/TOML file."""
    if str(spec) in PRESETS:
        return list(PRESETS[str(spec)])
    path = Path(spec)
    if not path.is_file():
        close = difflib.get_close_matches(str(spec), list(PRESETS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ScaleError(f"--scales {spec}: neither a preset ({', '.join(PRESETS)}) nor a file{hint}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ScaleError(f"{path.name} is not valid {path.suffix[1:].upper()}: {exc}") from None
    return scales_from(data, path.name)


def scales_from(data, source: str) -> list[Scale]:
    """Scales from parsed YAML/TOML (or stored settings), checked one key at a time."""
    if not isinstance(data, dict) or not isinstance(data.get("scales"), list) or not data["scales"]:
        raise ScaleError(f"{source}: expected a 'scales' list with at least one scale")
    defaults = {k: data[k] for k in ("range", "low", "high", "question") if k in data}
    scales = [_scale(defaults | entry, i, source) for i, entry in enumerate(data["scales"], 1)]
    names = [s.name for s in scales]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScaleError(f"{source}: scale name(s) {twice} appear more than once")
    return scales


def _scale(entry, number: int, source: str) -> Scale:
    where = f"{source}, scale {number}"
    if not isinstance(entry, dict):
        raise ScaleError(f"{where}: expected a mapping with name, question, low, high, range")
    name = str(entry.get("name", "")).strip()
    if not _NAME.match(name) or name in _RESERVED:
        raise ScaleError(
            f"{where}: name {name!r} must start with a letter and hold letters, digits and _ "
            f"(it becomes a column), and not be one of {sorted(_RESERVED)}"
        )
    where = f"{source}, scale {name!r}"
    bounds = entry.get("range", [1, 10])
    if (
        not isinstance(bounds, list | tuple)
        or len(bounds) != 2
        or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
        or not bounds[0] < bounds[1]
        or bounds[1] - bounds[0] + 1 > MAX_POINTS
    ):
        raise ScaleError(f"{where}: range must be two whole numbers [low, high], low < high")
    question = str(entry.get("question") or f"How {name} does this image make you feel?")
    dimension = entry.get("dimension")
    return Scale(
        name,
        question,
        str(entry.get("low", "low")),
        str(entry.get("high", "high")),
        int(bounds[0]),
        int(bounds[1]),
        str(dimension) if dimension else None,
    )


def scale_settings(scales: list[Scale]) -> list[dict]:
    """The scales as stored with a task (and in an export's sidecar)."""
    return [s.to_dict() for s in scales]


def stored_scales(settings: list[dict]) -> list[Scale]:
    return [Scale(**s) for s in settings]
