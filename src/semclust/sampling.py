"""Samples for human coders: what they rate, and the files they rate it in.

Validation needs people to look at images the clustering has not shown them. Four kinds
of sample serve the four tests of the papers:

* **pairs** (Arminio et al. 2024, section 2; Casas et al., section 2.4): random pairs of
  images, rated for denotative and connotative similarity. Drawn from every usable image
  of a study, independent of any run, so one set of codes scores every run; or
  *balanced* between same-cluster and different-cluster pairs of one run, as Casas et
  al. drew theirs from an 80-cluster k-means.
* **stratified** (Casas et al., section 3.1): a few images from every cluster, so that
  small clusters are not drowned by large ones; each row carries the weight that turns
  per-image means back into corpus means.
* **interpretability** (Arminio et al., sections 2 and 3.2): sets of images drawn from one
  cluster each, to be matched to the clusters' keyword descriptions, which are shown
  shuffled and lettered.
* **consistency** (Zhang and Leung, section 3.4.3 and appendix E): a fixed number of
  items per cluster, to be given a theme.

Every draw is a pure function of its input and seed. ``export_*`` functions write the
coders' CSV, a self-contained HTML contact sheet, and a JSON sidecar that records where
the sample came from (study, run, seed, parameters); they refuse to overwrite files,
which may already hold a coder's work. Sheets and CSVs for coders never show clusters,
except the consistency sheet, whose coders name each cluster's theme.
"""

from __future__ import annotations

import json
import logging
import re
import string
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SemclustError
from .evaluate.codes import DIMENSIONS, OUTLIER
from .imageio import thumbnail_data_url
from .report import _environment
from .runs import package_versions

log = logging.getLogger(__name__)

#: Casas et al.: five images from each cluster ...
STRATIFIED_PER_CLUSTER = 5
#: ... and N - 1 from the smaller ones.
STRATIFIED_LEAVE_OUT = 1
#: Arminio et al.: five sets per cluster, of alpha = 3 images each.
INTERPRETABILITY_SETS = 5
INTERPRETABILITY_SET_SIZE = 3
#: Zhang and Leung: ten items per cluster.
CONSISTENCY_PER_CLUSTER = 10
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


class SamplingError(SemclustError, ValueError):
    """A sample cannot be drawn or read as asked; the message names the value."""


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


# --- drawing ---------------------------------------------------------------------------------


def cluster_labels(assignments: pd.DataFrame) -> pd.Series:
    """Cluster (int, -1 = outlier) by id, for the items a run clustered."""
    missing = [c for c in ("id", "cluster") if c not in assignments.columns]
    if missing:
        raise SamplingError(f"assignments lack the column(s) {missing}")
    rows = assignments[assignments["cluster"].notna()]
    return pd.Series(
        rows["cluster"].astype(int).to_numpy(),
        index=pd.Index(rows["id"].astype(str), name="id"),
        name="cluster",
    )


def draw_pairs(ids: Sequence[str], n: int, random_state=0) -> pd.DataFrame:
    """``n`` distinct pairs of distinct items, uniform over all pairs, in random order.

    Returns a DataFrame with ``id_a`` and ``id_b``; which image is ``a`` is random too.
    """
    ids = _unique_ids(ids)
    _check_count(n, "n")
    position = np.arange(len(ids))
    starts, counts = position + 1, len(ids) - position - 1
    rng = np.random.default_rng(random_state)
    a, b = _draw_ranges(starts, counts, n, rng, "pairs of distinct images")
    return _pair_frame(ids[a], ids[b], rng)


def draw_balanced_pairs(labels: pd.Series, n: int, random_state=0) -> pd.DataFrame:
    """``n`` distinct pairs, half from one cluster and half from two, shuffled together.

    Within each half every pair is equally likely, so the mean code of each half estimates
    the mean over all same-cluster (different-cluster) pairs, as a purely random sample
    would. Outliers (-1) are left out: they are in neither kind of pair. With odd ``n``
    the extra pair is a different-cluster one.
    """
    _check_count(n, "n")
    labels = labels[labels != OUTLIER].sort_values(kind="stable")
    ids = np.asarray(labels.index.astype(str))
    codes = labels.to_numpy()
    position = np.arange(len(ids))
    group_end = np.searchsorted(codes, codes, side="right")
    rng = np.random.default_rng(random_state)
    n_same = n // 2
    same = _draw_ranges(position + 1, group_end - position - 1, n_same, rng, "same-cluster pairs")
    diff = _draw_ranges(group_end, len(ids) - group_end, n - n_same, rng, "different-cluster pairs")
    a, b = np.concatenate([same[0], diff[0]]), np.concatenate([same[1], diff[1]])
    order = rng.permutation(len(a))
    return _pair_frame(ids[a[order]], ids[b[order]], rng)


def stratified_sample(
    labels: pd.Series,
    per_cluster: int = STRATIFIED_PER_CLUSTER,
    leave_out: int = STRATIFIED_LEAVE_OUT,
    random_state=0,
) -> pd.DataFrame:
    """``min(per_cluster, size - leave_out)`` random items from each cluster, shuffled.

    With the defaults this is Casas et al.'s rule: five images from each cluster of more
    than six, N - 1 from clusters of 2 to 6, none from a cluster of one. Outliers are not
    a cluster and are not sampled.

    Returns
    -------
    DataFrame
        ``item`` (1..n, the number on the contact sheet), ``id``, ``cluster``,
        ``cluster_size`` and ``weight`` (cluster size / items drawn from it: weighted
        means over the sample estimate means over the clustered corpus).
    """
    _check_count(per_cluster, "per_cluster")
    if isinstance(leave_out, bool) or not isinstance(leave_out, int) or leave_out < 0:
        raise SamplingError(f"leave_out must be a whole number >= 0, not {leave_out!r}")
    rng = np.random.default_rng(random_state)
    rows = []
    for cluster, members in _members(labels).items():
        k = max(0, min(per_cluster, len(members) - leave_out))
        for item in rng.choice(members, size=k, replace=False):
            rows.append((item, cluster, len(members), len(members) / k))
    if not rows:
        raise SamplingError("no cluster is large enough to sample from")
    table = pd.DataFrame(rows, columns=["id", "cluster", "cluster_size", "weight"])
    table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
    table.insert(0, "item", np.arange(1, len(table) + 1))
    return table


def consistency_sample(
    labels: pd.Series, per_cluster: int = CONSISTENCY_PER_CLUSTER, random_state=0
) -> pd.DataFrame:
    """``per_cluster`` random items of each cluster (all of a smaller one), by cluster.

    Returns ``id`` and ``cluster``, clusters in order, items in random order within each.
    """
    _check_count(per_cluster, "per_cluster")
    rng = np.random.default_rng(random_state)
    rows = [
        (item, cluster)
        for cluster, members in _members(labels).items()
        for item in rng.choice(members, size=min(per_cluster, len(members)), replace=False)
    ]
    if not rows:
        raise SamplingError("the run has no cluster to sample from (only outliers)")
    return pd.DataFrame(rows, columns=["id", "cluster"])


def interpretability_test(
    labels: pd.Series,
    descriptions: dict[int, str],
    n_sets: int = INTERPRETABILITY_SETS,
    set_size: int = INTERPRETABILITY_SET_SIZE,
    random_state=0,
) -> InterpretabilityTest:
    """``n_sets`` disjoint sets of ``set_size`` items per cluster, and the descriptions lettered.

    A cluster with fewer than ``n_sets * set_size`` items gives as many full sets as it
    can (a warning names it); its description is offered all the same. Sets are numbered
    in shuffled order and descriptions lettered in shuffled order, so neither reveals a
    cluster.

    Parameters
    ----------
    labels : Series
        Cluster by id (outliers -1 are not a cluster).
    descriptions : dict
        Cluster -> its description (e.g. its keywords); every cluster needs one.
    """
    _check_count(n_sets, "n_sets")
    _check_count(set_size, "set_size")
    members = _members(labels)
    if not members:
        raise SamplingError("the run has no cluster to draw image sets from")
    missing = [c for c in members if c not in descriptions]
    if missing:
        raise SamplingError(f"cluster {missing[0]} has no description (keywords) to offer")
    rng = np.random.default_rng(random_state)
    sets, short = [], []
    for cluster, items in members.items():
        k = min(n_sets, len(items) // set_size)
        if k < n_sets:
            short.append(f"{cluster} ({len(items)} items: {k} sets)")
        drawn = rng.choice(items, size=k * set_size, replace=False)
        sets += [(cluster, tuple(chunk)) for chunk in np.split(drawn, k)] if k else []
    if short:
        log.warning("clusters too small for %d sets of %d: %s", n_sets, set_size, ", ".join(short))
    if not sets:
        raise SamplingError(f"no cluster has {set_size} items to make one set from")
    table = pd.DataFrame(
        [sets[i] for i in rng.permutation(len(sets))], columns=["true_cluster", "items"]
    )
    table.insert(0, "set_id", [f"S{i:03d}" for i in range(1, len(table) + 1)])
    offered = list(members)
    shuffled = [offered[i] for i in rng.permutation(len(offered))]
    letters = pd.DataFrame(
        {
            "letter": letter_codes(len(shuffled)),
            "cluster": shuffled,
            "description": [descriptions[c] for c in shuffled],
        }
    )
    return InterpretabilityTest(sets=table, letters=letters)


def letter_codes(n: int) -> list[str]:
    """``A, B, ..., Z, AA, AB, ...``: spreadsheet-style names for ``n`` descriptions."""
    codes = []
    for i in range(n):
        code, i = "", i + 1
        while i:
            i, rest = divmod(i - 1, 26)
            code = string.ascii_uppercase[rest] + code
        codes.append(code)
    return codes


def _draw_ranges(starts: np.ndarray, counts: np.ndarray, n: int, rng, what: str):
    """``n`` distinct pairs ``(i, j)``, uniform over ``j in [starts[i], starts[i] + counts[i])``.

    Every pair has one index in ``0 .. counts.sum() - 1``, so drawing indices without
    replacement draws pairs without replacement, without listing all pairs (n^2 of them).
    """
    ends = np.cumsum(counts, dtype=np.int64)
    total = int(ends[-1]) if len(ends) else 0
    if n > total:
        raise SamplingError(f"asked for {n} {what} but there are only {total}")
    picks = rng.choice(total, size=n, replace=False) if n else np.empty(0, np.int64)
    rows = np.searchsorted(ends, picks, side="right")
    return rows, starts[rows] + picks - (ends[rows] - counts[rows])


def _pair_frame(first: np.ndarray, second: np.ndarray, rng) -> pd.DataFrame:
    """Pairs with a random side for each image, so ``a`` is not always the earlier item."""
    swap = rng.random(len(first)) < 0.5
    return pd.DataFrame(
        {"id_a": np.where(swap, second, first), "id_b": np.where(swap, first, second)}
    )


def _members(labels: pd.Series) -> dict[int, np.ndarray]:
    """Ids of each cluster (outliers left out), clusters in ascending order."""
    if not isinstance(labels, pd.Series):
        raise SamplingError(f"labels must be a Series id -> cluster, not {type(labels).__name__}")
    labels = labels[labels != OUTLIER]
    groups = labels.groupby(labels.to_numpy(), sort=True)
    return {int(c): np.asarray(g.index.astype(str)) for c, g in groups}


def _unique_ids(ids: Sequence[str]) -> np.ndarray:
    ids = np.asarray([str(i) for i in ids], dtype=object)
    seen = pd.Index(ids)
    if seen.has_duplicates:
        raise SamplingError(f"id {seen[seen.duplicated()][0]!r} appears more than once")
    return ids


def _check_count(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise SamplingError(f"{name} must be a whole number >= 1, not {value!r}")


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
    """``<dimension>_<coder>`` code columns (see :mod:`semclust.evaluate.codes`)."""
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
    return _write_sample(prefix, provenance, {".csv": _csv(table), ".html": html}, overwrite)


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
    table = sample.copy()
    table.insert(table.columns.get_loc("id") + 1, "image", _paths(images, sample["id"]))
    thumbs = _thumbnails(table["image"], max_side)
    cards = [
        _Card(f"Image {row.item}", [_image(thumbs, row.image, row.id)])
        for row in table.itertuples()
    ]
    intro = "Code each image as the coding manual asks; its number is the CSV's 'item' column."
    html = _render(f"{len(table)} images", intro, [_Group("", cards)], max_side)
    return _write_sample(prefix, provenance, {".csv": _csv(table), ".html": html}, overwrite)


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
    return _write_sample(prefix, provenance, {".csv": _csv(table), ".html": html}, overwrite)


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


def _image(thumbs: dict[str, str | None], path: str, caption: str) -> _Image:
    return _Image(thumbs[str(path)], caption)


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _render(title: str, intro: str, groups: list[_Group], side: int, legend=None) -> str:
    return (
        _environment()
        .get_template("contact_sheet.html.j2")
        .render(title=title, intro=intro, groups=groups, thumb_side=side, legend=legend or [])
    )


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False)


def _write_sample(prefix: Path, provenance: Provenance, contents: dict, overwrite: bool):
    """Write ``<prefix><suffix>`` for each of ``contents``, and the sidecar ``<prefix>.json``."""
    prefix = Path(prefix)
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


# --- reading coded samples back --------------------------------------------------------------


def read_csv(path: Path, what: str, **options) -> pd.DataFrame:
    """A CSV file as text columns, or an error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise SamplingError(f"{what} file not found: {path}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SamplingError(f"cannot read the {what} file {path}: {exc}") from exc


def letters_path(key: Path) -> Path:
    """The letters file written beside ``<prefix>-key.csv``."""
    key = Path(key)
    stem = key.name.removesuffix("-key.csv")
    return key.with_name(f"{stem}-letters.csv")


@dataclass(frozen=True)
class InterpretabilityAnswers:
    """Evaluators' answers turned into the table :func:`score_interpretability` takes."""

    table: pd.DataFrame
    evaluators: list[str]
    clusters: list[int]
    run: str | None
    n_unanswered: int


def read_interpretability(
    answers: Path, key: Path, letters: Path | None = None
) -> InterpretabilityAnswers:
    """Join the answers (letters) to the key, translating letters into clusters.

    ``letters`` defaults to the ``<prefix>-letters.csv`` beside ``<prefix>-key.csv``.
    Sets nobody answered yet are left out and counted in ``n_unanswered``.

    Raises
    ------
    SamplingError
        A missing column, a set id not in the key or given twice, or a letter that was
        not offered, naming the line and column.
    """
    answers, key = Path(answers), Path(key)
    letters = Path(letters) if letters is not None else letters_path(key)
    answer_table = _read_table(answers, "answers", ("set_id",))
    key_table = _read_table(key, "key", ("set_id", "true_cluster"))
    letter_table = _read_table(letters, "letters", ("letter", "cluster"))
    evaluators = [c for c in answer_table.columns if c != "set_id"]
    if not evaluators:
        raise SamplingError(f"{answers.name} has no evaluator column beside set_id")
    offered = letter_table["letter"].str.strip().str.upper()
    to_cluster = dict(zip(offered, _whole(letter_table, "cluster", letters.name), strict=True))
    set_ids = key_table["set_id"].str.strip()
    truth = dict(zip(set_ids, _whole(key_table, "true_cluster", key.name), strict=True))
    table = _translate(answer_table, evaluators, to_cluster, truth, answers.name)
    answered = table[evaluators].notna().any(axis=1)
    runs = key_table["run"].unique().tolist() if "run" in key_table.columns else [""]
    return InterpretabilityAnswers(
        table=table[answered].reset_index(drop=True),
        evaluators=evaluators,
        clusters=sorted(to_cluster.values()),
        run=runs[0] or None,
        n_unanswered=int((~answered).sum()),
    )


def _read_table(path: Path, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    table = read_csv(path, what)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise SamplingError(
            f"{path.name} lacks the column(s) {missing}; it has {list(table.columns)}"
        )
    return table


def _whole(table: pd.DataFrame, column: str, name: str) -> list[int]:
    """A column of cluster ids as ints, or an error naming the line."""
    numbers = pd.to_numeric(table[column].str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise SamplingError(
            f"line {line} of {name}: {column} {table[column].iloc[line - 2]!r} is not a cluster id"
        )
    return numbers.astype(int).tolist()


def _translate(
    answers: pd.DataFrame, evaluators, to_cluster: dict, truth: dict, name: str
) -> pd.DataFrame:
    """``set_id``, ``true_cluster`` and each evaluator's chosen cluster (NA = not answered)."""
    seen = set()
    rows = []
    for line, record in enumerate(answers.to_dict(orient="records"), start=2):
        set_id = record["set_id"].strip()
        if set_id not in truth:
            raise SamplingError(f"line {line} of {name}: set {set_id!r} is not in the key")
        if set_id in seen:
            raise SamplingError(f"line {line} of {name}: set {set_id!r} is answered twice")
        seen.add(set_id)
        row = {"set_id": set_id, "true_cluster": truth[set_id]}
        for evaluator in evaluators:
            letter = record[evaluator].strip().upper()
            if letter and letter not in to_cluster:
                raise SamplingError(
                    f"line {line} of {name}, column {evaluator!r}: {record[evaluator]!r} is not "
                    f"one of the letters offered ({', '.join(to_cluster)})"
                )
            row[evaluator] = to_cluster[letter] if letter else pd.NA
        rows.append(row)
    return pd.DataFrame(rows, columns=["set_id", "true_cluster", *evaluators])
