"""Sample files from ``semclust sample`` read as task specs, checked against the study's images.

The kind is told by the columns: ``id_a``/``id_b`` (pairs), ``set_id`` (interpretability),
``id`` with ``theme`` columns (consistency), ``id`` with ``slot`` (a ratings plan). Every
error names the file, the line and the column.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from semclust.core.store import DB_NAME, StudyStore
from semclust.validation.annotate.model import AnnotationError, TaskSpec, Unit
from semclust.validation.annotate.scales import Scale, scale_settings
from semclust.validation.evaluate.codes import DIMENSIONS, GRADED_DIMENSIONS
from semclust.validation.sampling import SamplingError, read_csv

log = logging.getLogger(__name__)

_INTERPRETABILITY_FILES = ("-answers.csv", "-key.csv", "-letters.csv")


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
    parameters = _sidecar(path).get("parameters", {})
    if parameters.get("codebook"):  # `semclust sample codes`: coded against the codebook
        settings |= {"codebook": parameters["codebook"], "no_code": parameters["no_code"]}
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


def default_task_name(path: Path) -> str:
    stem = path.name
    for suffix in (*_INTERPRETABILITY_FILES, ".csv"):
        stem = stem.removesuffix(suffix)
    return stem
