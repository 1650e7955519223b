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
* **ratings** (Casas et al., section 3.2): a stratified sample dealt into coder slots
  (:mod:`semclust.validation.sampling_ratings`), rated on scales by groups of coders.

Every draw is a pure function of its input and seed. :func:`draw_sample` draws one kind
from a study's run and writes its files. The files (``export_*`` to write the coders'
CSV, contact sheet and JSON sidecar; ``read_*`` to read coded ones back) are in
:mod:`semclust.validation.sampling_export` and importable from here too.
"""

from __future__ import annotations

import dataclasses
import logging
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.study.runs import Run
from semclust.validation.evaluate.answer_files import (
    InterpretabilityAnswers,
    SamplingError,
    cluster_labels,
    letters_path,
    read_csv,
    read_interpretability,
)
from semclust.validation.evaluate.codes import OUTLIER
from semclust.validation.sampling_export import (
    RATING_HELP,
    InterpretabilityTest,
    Provenance,
    check_names,
    export_consistency,
    export_interpretability,
    export_pairs,
    export_ratings,
    export_stratified,
    rating_columns,
)
from semclust.validation.sampling_ratings import PER_CODER, parse_groups, rating_slots

__all__ = [
    "CONSISTENCY_PER_CLUSTER",
    "DEFAULT_CODERS",
    "INTERPRETABILITY_SETS",
    "INTERPRETABILITY_SET_SIZE",
    "KIND_OPTIONS",
    "RATING_HELP",
    "STRATIFIED_LEAVE_OUT",
    "STRATIFIED_PER_CLUSTER",
    "InterpretabilityAnswers",
    "InterpretabilityTest",
    "Provenance",
    "SampleOptions",
    "SamplingError",
    "check_names",
    "cluster_labels",
    "consistency_sample",
    "draw_balanced_pairs",
    "draw_pairs",
    "draw_sample",
    "export_consistency",
    "export_interpretability",
    "export_pairs",
    "export_stratified",
    "interpretability_test",
    "letter_codes",
    "letters_path",
    "rating_columns",
    "read_csv",
    "read_interpretability",
    "stratified_sample",
]

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


# --- drawing ---------------------------------------------------------------------------------


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


# --- a sample of a study ---------------------------------------------------------------------


@dataclass(frozen=True)
class SampleOptions:
    """What a sample of a study asks for; None means the kind's default."""

    n: int = 500
    balanced: bool = False
    coders: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ("denotative", "connotative")
    per_cluster: int | None = None
    leave_out: int = STRATIFIED_LEAVE_OUT
    sets: int = INTERPRETABILITY_SETS
    set_size: int = INTERPRETABILITY_SET_SIZE
    text_column: str | None = None
    thumb_size: int = 200
    per_coder: int = PER_CODER
    groups: str | None = None


#: The options each kind uses: the parameters recorded in its sidecar.
KIND_OPTIONS = {
    "pairs": ("n", "balanced", "coders", "dimensions"),
    "stratified": ("per_cluster", "leave_out"),
    "interpretability": ("sets", "set_size", "coders"),
    "consistency": ("per_cluster", "coders", "text_column"),
    "ratings": ("per_cluster", "leave_out", "per_coder", "groups"),
    "codes": ("per_cluster", "leave_out", "coders", "text_column"),
}
#: Default coder columns: two coders per pair (Arminio et al.), three evaluators (ibid. 3.2).
DEFAULT_CODERS = {
    "pairs": ("coder1", "coder2"),
    "interpretability": ("evaluator1", "evaluator2", "evaluator3"),
}


def draw_sample(
    kind: str,
    study: Path,
    run_id: str,
    options: SampleOptions,
    *,
    seed: int = 0,
    out: Path | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Draw and write one sample; returns the files written.

    Random pairs come from every usable image of the study and need no run; every other
    sample is drawn from the clusters of ``run_id``. ``kind`` is ``pairs``,
    ``stratified``, ``interpretability`` or ``consistency``; ``out`` is the file prefix,
    by default ``STUDY/samples/<kind>-<run or all>-seed<seed>``.
    """
    options = _with_defaults(kind, options)
    run = None if kind == "pairs" and not options.balanced else Run.load(study, run_id)
    images = _usable_images(study) if run is None else _images(run.assignments)
    labels = None if run is None else cluster_labels(run.assignments)
    prefix = out or Path(study) / "samples" / f"{kind}-{run.id if run else 'all'}-seed{seed}"
    parameters = {name: getattr(options, name) for name in KIND_OPTIONS[kind]}
    provenance = Provenance(kind, str(Path(study).resolve()), run and run.id, seed, parameters)
    write = {"max_side": options.thumb_size, "overwrite": overwrite}
    if kind == "pairs":
        if run is None:
            pairs = draw_pairs(images.index.tolist(), options.n, seed)
        else:
            pairs = draw_balanced_pairs(labels, options.n, seed)
        return export_pairs(
            pairs,
            images,
            prefix,
            provenance,
            coders=options.coders,
            dimensions=options.dimensions,
            **write,
        )
    if kind == "codes":  # a codebook-seeded run, coded against its codebook
        from semclust.validation.code_sample import export_code_sample

        return export_code_sample(run, Path(study), prefix, options.per_cluster, options.leave_out,
                                  options.coders, options.text_column, seed, options.thumb_size, overwrite)
    if kind == "stratified":
        table = stratified_sample(labels, options.per_cluster, options.leave_out, seed)
        return export_stratified(table, images, prefix, provenance, **write)
    if kind == "ratings":
        groups = parse_groups(options.groups)
        provenance.parameters["groups"] = groups
        table = stratified_sample(labels, options.per_cluster, options.leave_out, seed)
        table["slot"] = rating_slots(table, options.per_coder, seed)
        return export_ratings(table, images, prefix, provenance, **write)
    if kind == "consistency":
        from semclust.validation.evaluate.sections import (
            require_column,  # here: sections pulls in scikit-learn
        )

        require_column(run.assignments, options.text_column)
        table = consistency_sample(labels, options.per_cluster, seed)
        return export_consistency(
            table,
            run.assignments,
            prefix,
            provenance,
            coders=options.coders,
            text_column=options.text_column,
            **write,
        )
    test = interpretability_test(labels, _descriptions(run), options.sets, options.set_size, seed)
    return export_interpretability(
        test, images, prefix, provenance, evaluators=options.coders, **write
    )


def _with_defaults(kind: str, options: SampleOptions) -> SampleOptions:
    per_cluster = {
        "stratified": STRATIFIED_PER_CLUSTER,
        "codes": STRATIFIED_PER_CLUSTER,
        "ratings": STRATIFIED_PER_CLUSTER,
        "consistency": CONSISTENCY_PER_CLUSTER,
    }
    return dataclasses.replace(
        options,
        coders=options.coders or DEFAULT_CODERS.get(kind, ()),
        per_cluster=options.per_cluster or per_cluster.get(kind),
    )


def _usable_images(study: Path) -> pd.Series:
    """Image path by id of every item whose image could be read."""
    from semclust.study.workspace import Study

    with Study(study) as s:
        items = s.items()
    return _images(items[items["status"] == "ok"])


def _images(table: pd.DataFrame) -> pd.Series:
    return table.set_index(table["id"].astype(str))["image"]


def _descriptions(run: Run) -> dict[int, str]:
    """Each cluster's keywords as the evaluators read them: terms only, best first."""
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no keywords yet: run `semclust label` first")
    return {
        int(c): ", ".join(term for term, _ in keywords) or "(no keywords)"
        for c, keywords in zip(run.clusters["cluster"], run.clusters["keywords"], strict=True)
    }
