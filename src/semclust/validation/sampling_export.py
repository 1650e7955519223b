"""The files of a sample: written for coders, and read back once they are coded.

``export_*`` write the coders' CSV, a self-contained HTML contact sheet, and a JSON
sidecar that records where the sample came from (study, run, seed, parameters); they
refuse to overwrite files, which may already hold a coder's work. Sheets and CSVs for
coders never show clusters, except the consistency sheet, whose coders name each
cluster's theme. ``read_*`` turn coded files back into tables, with errors that name the
file, line and column.

The draws themselves are in :mod:`semclust.validation.sampling`, which re-exports everything public
here; this module is the lower layer, so :class:`SamplingError` lives here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.imageio import thumbnail_data_url
from semclust.study.runs import package_versions
from semclust.validation.evaluate.answer_files import SamplingError
from semclust.validation.evaluate.codes import DIMENSIONS

log = logging.getLogger(__name__)

#: Threads decoding images for a sheet (Pillow releases the GIL while decoding).
_THUMB_WORKERS = 4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: What coders are asked, per dimension (Arminio et al., section 2; Casas et al., 2.4).
RATING_HELP = {
    "denotative": "Denotative: do the two images show the same or similar visual elements?",
    "connotative": "Connotative: do the two images refer to the same social meaning?",
    "same": "Same: should the two images be in the same group? 1 = yes, 0 = no.",
}
_SCALE_HELP = "Denotative and connotative: 0 = unrelated, 1 = loosely, 2 = closely related."


@dataclass(frozen=True)
class InterpretabilityTest:
    """An interpretability test: image sets and the lettered descriptions offered.

    Attributes
    ----------
    sets : DataFrame
        ``set_id`` (S001, ... in shuffled order), ``true_cluster``, ``items`` (tuple of ids).
    letters : DataFrame
        ``letter``, ``cluster``, ``description``: every cluster offered, in letter order.
    """

    sets: pd.DataFrame
    letters: pd.DataFrame


@dataclass(frozen=True)
class Provenance:
    """Where a sample came from, written to its JSON sidecar."""

    kind: str
    study: str
    run: str | None
    seed: int
    parameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self) | {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "semclust_version": package_versions().get("semclust"),
        }


# --- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Image:
    src: str | None
    caption: str


@dataclass(frozen=True)
class _Card:
    label: str
    images: list[_Image]
    note: str = ""


@dataclass(frozen=True)
class _Group:
    heading: str
    cards: list[_Card]


def rating_columns(coders: Sequence[str], dimensions: Sequence[str]) -> list[str]:
    """``<dimension>_<coder>`` code columns (see :mod:`semclust.validation.evaluate.codes`)."""
    check_names(coders, "coder")
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown or not dimensions:
        raise SamplingError(f"dimensions must be among {DIMENSIONS}, got {list(dimensions)}")
    return [f"{d}_{c}" for d in dimensions for c in coders]


def check_names(names: Sequence[str], what: str) -> list[str]:
    """Coder names become column names: non-empty, unique, letters, digits, ``_ . -``."""
    names = list(names)
    if not names:
        raise SamplingError(f"give at least one {what} name")
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise SamplingError(
                f"{what} name {name!r} must start with a letter or digit and hold only "
                "letters, digits, '_', '.' or '-'"
            )
    if len(set(names)) != len(names):
        raise SamplingError(f"{what} names repeat: {names}")
    return names


def export_pairs(
    pairs: pd.DataFrame,
    images: pd.Series,
    prefix: Path,
    provenance: Provenance,
    *,
    coders: Sequence[str],
    dimensions: Sequence[str] = ("denotative", "connotative"),
    max_side: int = 200,
    overwrite: bool = False,
) -> list[Path]:
    """Write the coders' CSV (numbered pairs, empty code columns), the sheet and the sidecar."""
    table = pd.DataFrame(
        {
            "pair": np.arange(1, len(pairs) + 1),
            "id_a": pairs["id_a"].to_numpy(),
            "id_b": pairs["id_b"].to_numpy(),
            "image_a": _paths(images, pairs["id_a"]),
            "image_b": _paths(images, pairs["id_b"]),
        }
    )
    for column in rating_columns(coders, dimensions):
        table[column] = ""
    thumbs = _thumbnails(pd.concat([table["image_a"], table["image_b"]]), max_side)
    cards = [
        _Card(
            f"Pair {row.pair}",
            [_image(thumbs, row.image_a, row.id_a), _image(thumbs, row.image_b, row.id_b)],
        )
        for row in table.itertuples()
    ]
    intro = " ".join(
        ["Rate each pair on its own; the pairs are in random order."]
        + [RATING_HELP[d] for d in dimensions]
        + ([_SCALE_HELP] if set(dimensions) - {"same"} else [])
        + ["Enter your codes in the CSV row with the pair's number."]
    )
    html = _render(f"{len(table)} image pairs", intro, [_Group("", cards)], max_side)
    return _write_sheet(prefix, provenance, table, html, overwrite)


def export_stratified(
    sample: pd.DataFrame,
    images: pd.Series,
    prefix: Path,
    provenance: Provenance,
    *,
    max_side: int = 200,
    overwrite: bool = False,
) -> list[Path]:
    """Write the stratified sample (with clusters and weights) and a blind numbered sheet."""
    table, thumbs = _with_images(sample, images, max_side)
    cards = [_item_card(thumbs, row) for row in table.itertuples()]
    intro = "Code each image as the coding manual asks; its number is the CSV's 'item' column."
    html = _render(f"{len(table)} images", intro, [_Group("", cards)], max_side)
    return _write_sheet(prefix, provenance, table, html, overwrite)


def export_ratings(
    sample: pd.DataFrame,
    images: pd.Series,
    prefix: Path,
    provenance: Provenance,
    *,
    max_side: int = 200,
    overwrite: bool = False,
) -> list[Path]:
    """Write a rating study's plan (the stratified sample with each image's ``slot``).

    ``semclust annotate serve --task <prefix>.csv --scales ...`` serves it; the sheet shows
    each slot's images, which one coder of each group rates, without clusters.
    """
    table, thumbs = _with_images(sample, images, max_side)
    groups = [
        _Group(
            f"Slot {slot}: one coder of each group",
            [_item_card(thumbs, row) for row in rows.itertuples()],
        )
        for slot, rows in table.sort_values(["slot", "item"]).groupby("slot", sort=True)
    ]
    intro = (
        "The images of a rating study, by coder slot: every coder is given one slot, the "
        "least used of their group, and rates its images in an order of their own. "
        "No slot holds two images of one cluster."
    )
    html = _render(f"{len(table)} images in {len(groups)} slots", intro, groups, max_side)
    return _write_sheet(prefix, provenance, table, html, overwrite)


def export_consistency(
    sample: pd.DataFrame,
    items: pd.DataFrame,
    prefix: Path,
    provenance: Provenance,
    *,
    coders: Sequence[str] = (),
    text_column: str | None = None,
    max_side: int = 200,
    overwrite: bool = False,
) -> list[Path]:
    """Write the items to theme, grouped by cluster, with an empty ``theme`` column per coder.

    ``items`` has ``id``, ``image`` and, when ``text_column`` is given, the post text to show.
    """
    lookup = items.assign(id=items["id"].astype(str)).set_index("id")
    table = sample.assign(image=_paths(lookup["image"], sample["id"]))
    if text_column:
        table[text_column] = lookup[text_column].reindex(table["id"]).to_numpy()
    themes = ["theme"] if not coders else [f"theme_{c}" for c in check_names(coders, "coder")]
    for column in themes:
        table[column] = ""
    thumbs = _thumbnails(table["image"], max_side)
    groups = [
        _Group(
            f"Cluster {cluster}",
            [
                _Card(row["id"], [_image(thumbs, row["image"], "")], _text(row.get(text_column)))
                for row in rows.to_dict(orient="records")
            ],
        )
        for cluster, rows in table.groupby("cluster", sort=True)
    ]
    intro = (
        "For each cluster, decide on the themes its items share, then give every item its theme "
        "in the 'theme' column of the CSV. Use the same wording for the same theme."
    )
    html = _render(f"{len(table)} items in {len(groups)} clusters", intro, groups, max_side)
    return _write_sheet(prefix, provenance, table, html, overwrite)


def export_interpretability(
    test: InterpretabilityTest,
    images: pd.Series,
    prefix: Path,
    provenance: Provenance,
    *,
    evaluators: Sequence[str],
    max_side: int = 200,
    overwrite: bool = False,
) -> list[Path]:
    """Write the evaluators' sheet and answer template, the key and the letters.

    Files: ``<prefix>.html`` (descriptions lettered, sets numbered), ``<prefix>-answers.csv``
    (``set_id`` + one empty column per evaluator, for letters), ``<prefix>-key.csv``
    (``set_id``, ``true_cluster``, ``run``, ``items``), ``<prefix>-letters.csv``
    (``letter``, ``cluster``, ``description``) and the sidecar ``<prefix>.json``.
    Keep the key and letters away from the evaluators.
    """
    evaluators = check_names(evaluators, "evaluator")
    sets = test.sets
    answers = pd.DataFrame({"set_id": sets["set_id"]}).assign(**dict.fromkeys(evaluators, ""))
    key = pd.DataFrame(
        {
            "set_id": sets["set_id"],
            "true_cluster": sets["true_cluster"],
            "run": provenance.run,
            "items": [";".join(items) for items in sets["items"]],
        }
    )
    paths_of_sets = [_paths(images, pd.Series(items)) for items in sets["items"]]
    thumbs = _thumbnails(pd.Series([p for paths in paths_of_sets for p in paths]), max_side)
    cards = [
        _Card(f"Set {set_id}", [_image(thumbs, path, "") for path in paths])
        for set_id, paths in zip(sets["set_id"], paths_of_sets, strict=True)
    ]
    intro = (
        "Each set holds images from one group. Find the description (letter) that fits the set "
        "best and write the letter in your column of the answers CSV, in the row of the set."
    )
    legend = list(zip(test.letters["letter"], test.letters["description"], strict=True))
    html = _render(f"{len(sets)} image sets", intro, [_Group("", cards)], max_side, legend)
    return _write_sample(
        prefix,
        provenance,
        {
            ".html": html,
            "-answers.csv": _csv(answers),
            "-key.csv": _csv(key),
            "-letters.csv": _csv(test.letters),
        },
        overwrite,
    )


def _paths(images: pd.Series, ids: pd.Series) -> np.ndarray:
    """Image path of each id; an id the study does not know is an error."""
    images = images.copy()
    images.index = images.index.astype(str)
    ids = pd.Series(ids).astype(str)
    unknown = ~ids.isin(images.index)
    if unknown.any():
        raise SamplingError(f"image id {ids[unknown].iloc[0]!r} is not in the study")
    return images.reindex(ids).to_numpy()


def _thumbnails(paths: pd.Series, max_side: int) -> dict[str, str | None]:
    """Each distinct path decoded once, in parallel."""
    distinct = list(dict.fromkeys(str(p) for p in paths))
    with ThreadPoolExecutor(max_workers=_THUMB_WORKERS) as pool:
        urls = pool.map(lambda p: thumbnail_data_url(p, max_side=max_side), distinct)
        return dict(zip(distinct, urls, strict=True))


def _with_images(
    sample: pd.DataFrame, images: pd.Series, max_side: int
) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """The sample with each item's ``image`` path after its ``id``, and the thumbnails."""
    table = sample.copy()
    table.insert(table.columns.get_loc("id") + 1, "image", _paths(images, sample["id"]))
    return table, _thumbnails(table["image"], max_side)


def _image(thumbs: dict[str, str | None], path: str, caption: str) -> _Image:
    return _Image(thumbs[str(path)], caption)


def _item_card(thumbs: dict[str, str | None], row) -> _Card:
    """One numbered image of a sample, captioned with its id (``row`` from ``itertuples``)."""
    return _Card(f"Image {row.item}", [_image(thumbs, row.image, row.id)])


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _render(title: str, intro: str, groups: list[_Group], side: int, legend=None) -> str:
    from semclust.stages.report import (
        template_environment,  # here: the report module pulls in matplotlib
    )

    return (
        template_environment()
        .get_template("contact_sheet.html.j2")
        .render(title=title, intro=intro, groups=groups, thumb_side=side, legend=legend or [])
    )


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False)


def _write_sheet(
    prefix: Path, provenance: Provenance, table: pd.DataFrame, html: str, overwrite: bool
) -> list[Path]:
    """Write the coders' ``<prefix>.csv``, its ``<prefix>.html`` sheet and the sidecar."""
    return _write_sample(prefix, provenance, {".csv": _csv(table), ".html": html}, overwrite)


def _write_sample(prefix: Path, provenance: Provenance, contents: dict, overwrite: bool):
    """Write ``<prefix><suffix>`` for each of ``contents``, and the sidecar ``<prefix>.json``."""
    prefix = Path(prefix)
    if prefix.suffix.lower() in (".csv", ".html", ".json"):  # `--out pairs.csv` means the prefix `pairs`
        prefix = prefix.with_suffix("")
    files = {prefix.with_name(prefix.name + suffix): text for suffix, text in contents.items()}
    record = provenance.to_dict() | {"files": [path.name for path in files]}
    files[prefix.with_name(prefix.name + ".json")] = json.dumps(record, indent=2, default=str)
    return _write_all(files, overwrite)


def _write_all(files: dict[Path, str], overwrite: bool) -> list[Path]:
    """Write every file, or none: a sample file may already hold a coder's work."""
    if not overwrite:
        taken = [p for p in files if p.exists()]
        if taken:
            raise SamplingError(
                f"{taken[0]} exists (it may hold coders' work); choose another --out or use --force"
            )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    log.debug("wrote %s", ", ".join(p.name for p in files))
    return list(files)
