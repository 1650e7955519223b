"""A researcher's codebook read from YAML, CSV or REFI-QDA (``.qdc``/``.qdpx``): codes to seed a run with.

A code is a name, a definition and optional examples (texts, or images of the study whose
descriptions stand in for them). Every problem is one :class:`CodebookError` line naming the
file and the code: an empty code, two codes with one name, a format not listed in
:data:`FORMATS`. Reading never writes anything, so a bad codebook leaves nothing behind.

YAML::

    codes:
      - name: protest
        definition: People marching with signs and banners in a street demonstration.
        examples: ["a crowd holding placards", "protesters face police lines"]
        images: [photos/march.jpg]

CSV: columns ``name``, ``definition`` and optionally ``examples`` and ``images`` (several
separated by ``|``). REFI-QDA: each code's name and description; nested codes are read as
codes of their own.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from semclust.core.errors import SemclustError

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".qdc": "refi-qda", ".qdpx": "refi-qda"}
#: Separates several examples in one CSV cell.
CSV_LIST_SEPARATOR = "|"


class CodebookError(SemclustError, ValueError):
    """The codebook cannot be used as it is; the message names the file and the code."""


@dataclass(frozen=True)
class Code:
    """One code of a codebook."""

    name: str
    definition: str = ""
    examples: tuple[str, ...] = ()
    images: tuple[str, ...] = field(default=(), compare=False)

    def texts(self, extra_examples: tuple[str, ...] = ()) -> list[str]:
        """What is embedded for the code: ``name: definition``, then each example on its own
        (the code's vector is the mean of theirs)."""
        head = self.name + (f": {self.definition}" if self.definition else "")
        return [head, *(e for e in (*self.examples, *extra_examples) if e)]


def load_codebook(path: str | Path) -> list[Code]:
    """The codes of the codebook at ``path``, checked (see the module docstring for the formats)."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise CodebookError(f"{path}: unknown codebook format {path.suffix or '(no suffix)'!r}; "
                            f"use one of {', '.join(sorted(FORMATS))}")
    if not path.is_file():
        raise CodebookError(f"codebook not found: {path}")
    readers = {"yaml": _read_yaml, "csv": _read_csv, "refi-qda": _read_refi_qda}
    codes = readers[kind](path)
    return check_codes(codes, path)


def check_codes(codes: list[Code], source: str | Path = "codebook") -> list[Code]:
    """``codes`` if every code has a name and something to embed and no name is used twice."""
    if not codes:
        raise CodebookError(f"{source}: the codebook holds no codes")
    seen: dict[str, str] = {}
    for number, code in enumerate(codes, start=1):
        if not code.name:
            raise CodebookError(f"{source}: code number {number} has no name")
        if not (code.definition or code.examples or code.images):
            raise CodebookError(f"{source}: code {code.name!r} is empty: give it a definition or examples")
        folded = code.name.casefold()
        if folded in seen:
            raise CodebookError(f"{source}: the code name {code.name!r} is used twice "
                                f"(also as {seen[folded]!r}); code names must be unique")
        seen[folded] = code.name
    return codes


def _clean(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _texts(value, path: Path, name: str, key: str) -> tuple[str, ...]:
    """A list field (YAML list, or one string) as stripped, non-empty texts."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise CodebookError(f"{path}: code {name!r}: {key} must be a list of texts, got {type(value).__name__}")
    return tuple(t for t in (_clean(v) for v in value) if t)


def _read_yaml(path: Path) -> list[Code]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CodebookError(f"{path} is not readable YAML: {exc}".splitlines()[0]) from None
    entries = data.get("codes") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CodebookError(f"{path}: expected a list of codes (or a mapping with a 'codes' list)")
    codes = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise CodebookError(f"{path}: code number {number} must be a mapping with name and definition")
        unknown = set(entry) - {"name", "definition", "examples", "images"}
        if unknown:
            raise CodebookError(f"{path}: code number {number} has unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
                                "known: name, definition, examples, images")
        name = _clean(entry.get("name"))
        codes.append(Code(name, _clean(entry.get("definition")), _texts(entry.get("examples"), path, name, "examples"),
                          _texts(entry.get("images"), path, name, "images")))
    return codes


def _read_csv(path: Path) -> list[Code]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            columns = set(rows[0]) if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CodebookError(f"{path} is not a readable CSV file: {exc}") from None
    if rows and not {"name", "definition"} <= columns:
        raise CodebookError(f"{path}: a CSV codebook needs the columns name and definition; "
                            f"it has {', '.join(sorted(c for c in columns if c))}")

    def split(cell) -> tuple[str, ...]:
        return tuple(t for t in (_clean(p) for p in (cell or "").split(CSV_LIST_SEPARATOR)) if t)

    return [Code(_clean(row["name"]), _clean(row["definition"]), split(row.get("examples")), split(row.get("images")))
            for row in rows]


def _read_refi_qda(path: Path) -> list[Code]:
    try:
        from semclust.core.refi_qda import read_codebook
    except ImportError:
        raise CodebookError(f"{path}: reading REFI-QDA codebooks needs semclust.core.refi_qda, "
                            "which this installation lacks; export the codebook as CSV or YAML") from None

    def flatten(nodes) -> list[Code]:
        found = []
        for node in nodes:
            found.append(Code(_clean(node.name), _clean(node.description)))
            found.extend(flatten(node.children))
        return found

    return flatten(read_codebook(path))
