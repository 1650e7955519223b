"""The sections of ``semclust evaluate``: a run scored against everything there is.

Coded pairs give Grimmer-King quality, pair precision/recall/F1 and coder agreement;
known label columns give AMI and friends; interpretability answers and consistency themes
give their tests; ``reduced.npy`` gives the internal indices; the data-loss curve needs
nothing. Each function returns a :class:`~semclust.validation.evaluate.persist.Section` and writes
nothing, so a caller may look before :func:`~semclust.validation.evaluate.persist.save_sections`.

:mod:`semclust.validation.sampling` is imported inside the functions that read sample files: it
imports this package, so importing it here would be circular.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.agreement import coder_agreement, consensus_codes
from semclust.validation.evaluate.ami import PAPER_FORM
from semclust.validation.evaluate.codes import (
    BINARY_DIMENSIONS,
    GRADED_DIMENSIONS,
    EvaluationInputError,
    load_codes,
    match_pairs,
)
from semclust.validation.evaluate.consistency import within_cluster_consistency
from semclust.validation.evaluate.dataloss import data_loss_curve
from semclust.validation.evaluate.external import external_scores
from semclust.validation.evaluate.internal import internal_indices
from semclust.validation.evaluate.interpretability import score_interpretability
from semclust.validation.evaluate.pairs import PAIR_FORMS, pair_scores, pair_scores_cv
from semclust.validation.evaluate.persist import Section
from semclust.validation.evaluate.quality import grimmer_king
from semclust.validation.evaluate.sdbw import PAPER_VARIANT

if TYPE_CHECKING:
    from semclust.study.runs import Run
    from semclust.validation.evaluate.codes import CodedPairs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateOptions:
    """Inputs and settings of an evaluation; every input left out skips its sections.

    Attributes
    ----------
    codes : Path, optional
        Coded pairs CSV (``id_a``, ``id_b``, ``<dimension>_<coder>`` ...).
    scale : str
        Scale of the graded codes: ``auto``, ``0-2`` or ``1-3``.
    labels : tuple of str
        Input columns of known labels.
    interpretability, key, letters : Path, optional
        Interpretability answers and the key (both or neither); letters default to the
        file beside the key.
    merge : tuple of str
        Clusters that count as one for the interpretability accuracy, e.g. ``("22+27",)``.
    consistency : Path, optional
        Consistency CSV with coded theme column(s).
    codebook_codes : Path, optional
        A codebook-seeded run's ``sample codes``, coded: per-code precision/recall and alpha.
    internal : bool
        Compute the internal indices on ``reduced.npy``.
    min_same, min_diff : int
        Fewest same- and different-cluster pairs for a quality score.
    pair_threshold : float
        A graded code at least this (0-2) means "belong together" for pair F1.
    folds, seed : int
        Cross-validation folds for pair precision/recall, and the seed of folds and indices.
    ami_form : str
        AMI normaliser against known labels: "max" (Zhang & Leung A.1) or "arithmetic".
    sdbw_variant : str
        S_Dbw of the internal indices: "halkidi" (appendix A.2, scale-invariant) or
        "s-dbw" (what the ``s-dbw`` package computes).
    """

    codes: Path | None = None
    scale: str = "auto"
    labels: tuple[str, ...] = ()
    interpretability: Path | None = None
    key: Path | None = None
    letters: Path | None = None
    merge: tuple[str, ...] = ()
    consistency: Path | None = None
    codebook_codes: Path | None = None
    internal: bool = False
    min_same: int = 50
    min_diff: int = 50
    pair_threshold: float = 2.0
    folds: int = 5
    seed: int = 0
    ami_form: str = PAPER_FORM
    sdbw_variant: str = PAPER_VARIANT


def evaluation_sections(run: Run, options: EvaluateOptions) -> dict[str, Section]:
    """Every section the options give input for; the data-loss curve always."""
    sections: dict[str, Section] = {}
    if options.codes is not None:
        sections |= coded_pair_sections(run, options)
    if options.labels:
        sections["external"] = external_section(run, options.labels, options.ami_form)
    if (options.interpretability is None) != (options.key is None):
        raise SemclustError("--interpretability (the answers) and --key go together: give both")
    if options.interpretability is not None:
        sections["interpretability"] = interpretability_section(run, options)
    if options.consistency is not None:
        sections["consistency"] = consistency_section(run, options.consistency)
    if options.codebook_codes is not None:
        from semclust.validation.evaluate.code_agreement import code_agreement_section

        sections["codebook_codes"] = code_agreement_section(run, options.codebook_codes)
    if options.internal:
        sections["internal"] = internal_section(run, options.seed, options.sdbw_variant)
    sections["data_loss"] = data_loss_section(run)
    return sections


def _any_code(codes: CodedPairs) -> bool:
    """Whether any pair carries a code, in a coder's column or in an agreed (bare) column."""
    columns = [c for d in codes.dimensions
               for c in [*codes.coder_columns(d), codes.consensus_column(d)] if c is not None]
    return any(codes.frame[c].notna().any() for c in columns)


def coded_pair_sections(run: Run, options: EvaluateOptions) -> dict[str, Section]:
    """Grimmer-King quality, pair precision/recall/F1 and coder agreement from one codes file."""
    codes = _load_codes(options.codes, options.scale)
    if not _any_code(codes):
        log.warning("no pair is coded yet in %s: fill in its coder columns (or code it with "
                    "`semclust annotate serve`); the pair sections evaluated before are kept as they were",
                    options.codes)
        return {}
    status = match_pairs(run.assignments, codes)
    pairs = codes.frame[["id_a", "id_b"]].assign(status=status.to_numpy())
    for dimension in codes.dimensions:
        pairs[dimension] = consensus_codes(codes, dimension).to_numpy()
    source = {"codes": str(options.codes), "scale": codes.scale, "n_pairs": len(codes.frame)}
    sections = {}
    graded = [d for d in codes.dimensions if d in GRADED_DIMENSIONS]
    if graded:
        sections["quality"] = quality_section(run, codes, graded, options, source, pairs)
    sections["pairs"] = pair_score_section(run, codes, options, source)
    sections["agreement"] = agreement_section(codes, source)
    return sections


def _load_codes(path: Path, scale: str) -> CodedPairs:
    """:func:`load_codes`, with a file pandas cannot parse reported as a user error."""
    try:
        return load_codes(path, scale=scale)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SemclustError(f"cannot read the codes file {path}: {exc}") from exc


def quality_section(
    run: Run,
    codes: CodedPairs,
    dimensions: list[str],
    options: EvaluateOptions,
    source: dict,
    pairs: pd.DataFrame,
) -> Section:
    """Grimmer-King quality per graded dimension; ``pairs`` (each coded pair) as its table."""
    scores = {
        d: grimmer_king(
            run.assignments, codes, d, min_same=options.min_same, min_diff=options.min_diff
        )
        for d in dimensions
    }
    data = {
        "source": source | {"min_same": options.min_same, "min_diff": options.min_diff},
        "scores": {d: s.to_dict() for d, s in scores.items()},
    }
    return Section(data, tables={"pairs": pairs})


def pair_score_section(
    run: Run, codes: CodedPairs, options: EvaluateOptions, source: dict
) -> Section:
    """Precision/recall/F1 per dimension: ``same`` at 1, graded codes at ``pair_threshold``.

    ``scores``/``cv`` are on all coded pairs (an outlier is apart from everything);
    ``clustered_pairs`` holds the same on the pairs of clustered images only, with
    ``n_left_out`` the coded pairs that form leaves out.
    """
    results, rows = {}, []
    for dimension in codes.dimensions:
        threshold = None if dimension in BINARY_DIMENSIONS else options.pair_threshold
        forms = {}
        for form, outliers in PAIR_FORMS.items():
            settings = {"dimension": dimension, "threshold": threshold, "outliers": outliers}
            scores = pair_scores(run.assignments, codes, **settings)
            try:
                cv = pair_scores_cv(
                    run.assignments,
                    codes,
                    n_splits=options.folds,
                    random_state=options.seed,
                    **settings,
                ).to_dict()
            except EvaluationInputError as exc:
                cv = {"reason": str(exc)}
            forms[form] = {"scores": scores.to_dict(), "cv": cv}
            rows.append(
                {"dimension": dimension, "threshold": threshold or 1, "pairs": form}
                | scores.to_dict()
            )
        clustered = forms["clustered_pairs"]
        clustered["n_left_out"] = (
            forms["all_pairs"]["scores"]["n_pairs"] - clustered["scores"]["n_pairs"]
        )
        results[dimension] = {"threshold": threshold or 1, **forms["all_pairs"]}
        results[dimension]["clustered_pairs"] = clustered
    data = {
        "source": source | {"folds": options.folds, "seed": options.seed},
        "by_dimension": results,
    }
    return Section(data, tables={"scores": pd.DataFrame(rows)})


def agreement_section(codes: CodedPairs, source: dict) -> Section:
    """Krippendorff's alpha and Cohen's kappa per dimension with two or more coders."""
    results, kappas = {}, []
    for dimension in codes.dimensions:
        if len(codes.coder_columns(dimension)) < 2:
            continue
        try:
            agreement = coder_agreement(codes, dimension)
        except EvaluationInputError as exc:
            results[dimension] = {"reason": str(exc)}
            continue
        results[dimension] = agreement.to_dict()
        kappas.append(agreement.kappa.assign(dimension=dimension))
    tables = {"kappa": pd.concat(kappas, ignore_index=True)} if kappas else {}
    return Section({"source": source, "by_dimension": results}, tables=tables)


def external_section(run: Run, columns: tuple[str, ...], ami_form: str = PAPER_FORM) -> Section:
    """AMI, ARI, NMI, homogeneity, completeness against each label column of the input."""
    rows = run.clustered()
    results = {}
    for column in columns:
        require_column(rows, column)
        truth = rows[column].where(rows[column].astype("string").str.strip() != "")
        results[column] = external_scores(
            truth, rows["cluster"].astype(int), average_method=ami_form
        ).to_dict()
    table = pd.DataFrame(
        [
            {"column": c, "outliers": reading} | (r[f"{reading}_outliers"] or {})
            for c, r in results.items()
            for reading in ("with", "without")
        ]
    )
    return Section({"by_column": results}, tables={"scores": table})


def require_column(table: pd.DataFrame, column: str | None) -> None:
    """Raise naming the columns there are when ``column`` (if given) is not among them."""
    if column is not None and column not in table.columns:
        raise SemclustError(
            f"the run has no column {column!r}; it has {', '.join(map(str, table.columns))}"
        )


def interpretability_section(run: Run, options: EvaluateOptions) -> Section:
    """The interpretability test scored from the evaluators' answers and the run's key."""
    from semclust.validation.evaluate.answer_files import read_interpretability

    answers = read_interpretability(options.interpretability, options.key, options.letters)
    if answers.run and answers.run != run.id:
        raise SemclustError(
            f"the interpretability key was drawn from run {answers.run}, not {run.id}: "
            f"evaluate it with --run {answers.run}"
        )
    result = score_interpretability(
        answers.table,
        evaluators=answers.evaluators,
        clusters=answers.clusters,
        merge=[_merge_pair(text) for text in options.merge],
    )
    data = result.to_dict() | {
        "n_unanswered": answers.n_unanswered,
        "source": {"answers": str(options.interpretability), "key": str(options.key)},
    }
    tables = {"per_cluster": result.per_cluster, "confusion": result.confusion.reset_index()}
    return Section(data, tables=tables)


def _merge_pair(text: str) -> tuple[int, int]:
    parts = text.split("+")
    try:
        first, second = (int(p) for p in parts)
    except ValueError:
        raise SemclustError(
            f"--merge takes two cluster ids joined by '+', e.g. 22+27; got {text!r}"
        ) from None
    return first, second


def consistency_section(run: Run, path: Path) -> Section:
    """Within-cluster consistency of every ``theme`` / ``theme_<coder>`` column."""
    from semclust.validation.evaluate.answer_files import read_csv

    path = Path(path)
    coded = read_csv(path, "consistency")
    themes = [c for c in coded.columns if c == "theme" or c.startswith("theme_")]
    if "id" not in coded.columns or not themes:
        raise SemclustError(
            f"{path.name} needs an 'id' and a 'theme' (or theme_<coder>) column; "
            f"it has {list(coded.columns)}"
        )
    coded = coded.assign(cluster=_run_clusters(coded, run, path.name))
    results = {c: within_cluster_consistency(coded[["id", "cluster", c]], theme=c) for c in themes}
    table = pd.concat(
        [r.per_cluster.assign(column=c) for c, r in results.items()], ignore_index=True
    )
    data = {"source": str(path), "by_column": {c: r.to_dict() for c, r in results.items()}}
    return Section(data, tables={"per_cluster": table})


def _run_clusters(coded: pd.DataFrame, run: Run, name: str) -> list[int]:
    """Each coded item's cluster in the run; a file's own ``cluster`` column must agree.

    Themes describe the clusters the coders saw, so a file drawn from another run is an
    error, not a silently different score.
    """
    from semclust.validation.evaluate.answer_files import cluster_labels

    labels = cluster_labels(run.assignments)
    stated = coded["cluster"] if "cluster" in coded.columns else [None] * len(coded)
    for line, (item, cluster) in enumerate(zip(coded["id"], stated, strict=True), start=2):
        if item not in labels.index:
            raise SemclustError(
                f"line {line} of {name}: id {item!r} is not clustered in run {run.id}"
            )
        if cluster is not None and cluster.strip() != str(labels[item]):
            raise SemclustError(
                f"line {line} of {name}: id {item!r} is in cluster {cluster!r} in the file but "
                f"{labels[item]} in run {run.id}; was the sample drawn from another run?"
            )
    return labels.reindex(coded["id"]).tolist()


def internal_section(run: Run, seed: int, sdbw_variant: str = PAPER_VARIANT) -> Section:
    """Silhouette, Davies-Bouldin, Calinski-Harabasz and S_Dbw in the space the run clustered."""
    if run.reduced is None:
        raise SemclustError(
            f"run {run.id} has no reduced.npy: internal indices need the clustered space"
        )
    labels = run.clustered()["cluster"].astype(int).to_numpy()
    if len(labels) != len(run.reduced):
        raise SemclustError(
            f"run {run.id}: reduced.npy has {len(run.reduced)} rows but {len(labels)} items "
            "were clustered"
        )
    indices = internal_indices(
        run.reduced, labels, random_state=seed, s_dbw_kwargs={"variant": sdbw_variant}
    )
    return Section(indices | {"s_dbw_variant": sdbw_variant})


def data_loss_section(run: Run) -> Section:
    """Share of all items outside the k largest clusters; unclustered items count as lost."""
    from semclust.validation.evaluate.plots import plot_data_loss

    labels = run.assignments["cluster"].fillna(-1).astype(int).to_numpy()
    try:
        curve = data_loss_curve(labels)
    except SemclustError as exc:
        return Section({"reason": str(exc)})
    data = {"lost_share": curve.outlier_share, "n_items": curve.n_items, "curve": curve.table}
    return Section(
        data,
        tables={"curve": curve.table},
        plots={"data_loss.png": lambda path: plot_data_loss(curve.table, path)},
    )
