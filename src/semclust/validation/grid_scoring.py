"""How each setting of a grid is scored, and which setting is best.

Without codes a setting gets its counts and the internal indices, computed in the
embedder's space (the one space all reducers of that embedder share; ``silhouette_reduced``
is the setting's own reduced space, which favours UMAP by construction). With coded pairs
also Grimmer-King quality per graded dimension and cross-validated pair precision/recall/F1
on all coded pairs (``f1``; an outlier is apart from everything) and on clustered pairs
only (``f1_clustered``, with ``pairs_left_out``), computed with the same functions as
``semclust evaluate``. :func:`best_setting` ranks the results table by one criterion.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.validation.grid_file import GridError

if TYPE_CHECKING:
    from semclust.study.workspace import Study
    from semclust.validation.evaluate import CodedPairs

#: Criteria for the best setting, and whether higher is better.
CRITERIA = {
    "connotative": True,
    "denotative": True,
    "f1": True,
    "f1_clustered": True,
    "ami": True,
    "silhouette": True,
    "silhouette_reduced": True,
    "calinski_harabasz": True,
    "s_dbw": False,
    "davies_bouldin": False,
}
#: The criterion used when none is named: the first one that any setting has a value for.
DEFAULT_CRITERIA = ("connotative", "f1", "denotative", "silhouette")
SCORE_COLUMNS = [
    "n_clustered", "n_clusters", "outlier_share",
    "silhouette", "davies_bouldin", "calinski_harabasz", "s_dbw", "silhouette_reduced",
    "connotative", "connotative_n_same", "connotative_n_diff",
    "denotative", "denotative_n_same", "denotative_n_diff",
    "precision", "recall", "f1", "precision_std", "recall_std", "f1_std", "pair_judgement",
    "precision_clustered", "recall_clustered", "f1_clustered", "pairs_left_out",
    "ami", "ami_without_outliers",
    "reduce_seconds", "cluster_seconds", "score_seconds", "notes", "error",
]  # fmt: skip
TEXT_COLUMNS = ("pair_judgement", "notes", "error")


@dataclass(frozen=True)
class ScoringOptions:
    """How each setting is scored against coded pairs (all optional: no codes, no such scores).

    ``pair_dimension`` None uses ``same`` when the codes have it, else the first graded
    dimension (connotative, then denotative) at ``pair_threshold`` on the 0-2 scale.
    ``labels`` names an input column of known categories: each setting then gets its AMI
    with them (``ami_form``, by default Zhang & Leung's max form), with outliers and
    unclustered items as one more label (``ami``) and without them (``ami_without_outliers``).
    """

    codes: str | os.PathLike | None = None
    scale: str = "auto"
    min_same: int = 50
    min_diff: int = 50
    pair_dimension: str | None = None
    pair_threshold: float = 2.0
    folds: int = 5
    fold_seed: int = 0
    labels: str | None = None
    ami_form: str = "max"


CODE_SCORES = (
    "connotative", "connotative_n_same", "connotative_n_diff",
    "denotative", "denotative_n_same", "denotative_n_diff",
    "precision", "recall", "f1", "precision_std", "recall_std", "f1_std", "pair_judgement",
    "precision_clustered", "recall_clustered", "f1_clustered", "pairs_left_out",
    "ami", "ami_without_outliers",
    "n_clustered", "n_clusters", "outlier_share", "code_notes",
)  # fmt: skip


class Scorer:
    """Scores one setting's labels: counts, and everything the coded pairs allow."""

    def __init__(self, study: Study, options: ScoringOptions):
        from semclust.validation.evaluate import load_codes, match_pairs
        from semclust.validation.evaluate.ami import check_form

        self.options = options
        self.codes = (
            None if options.codes is None else load_codes(options.codes, scale=options.scale)
        )
        self.base = _base_assignments(study)
        check_form(options.ami_form)
        self.truth = None if options.labels is None else _known_labels(study, options.labels)
        if self.codes is not None:  # unknown ids or a bad pair dimension fail now, not mid-grid
            match_pairs(self.base.assign(cluster=pd.NA), self.codes)
            pair_judgement(self.codes, options)
        codes_text = "" if self.codes is None else self.codes.frame.to_csv(index=False)
        self.fingerprint = digest(codes_text, asdict(options) | {"codes": None})

    def score(self, ids: np.ndarray, labels: np.ndarray) -> dict:
        from semclust.study.pipeline import summary_metrics

        counts = summary_metrics(labels, len(self.base))
        scores = {k: counts[k] for k in ("n_clustered", "n_clusters", "outlier_share")}
        cluster = pd.Series(labels, index=ids).reindex(self.base["id"].to_numpy())
        if self.truth is not None:
            scores |= label_scores(self.truth, cluster, self.options.ami_form)
        if self.codes is None:
            return scores
        assignments = self.base.assign(cluster=pd.array(cluster.to_numpy(), dtype="Int64"))
        return scores | code_scores(assignments, self.codes, self.options)


def _known_labels(study: Study, column: str) -> pd.Series:
    """The input column ``column`` for every item (empty text = unlabelled)."""
    items = study.items()
    if column not in items.columns:
        raise GridError(f"--labels {column!r}: the study's items have no such column "
                        f"(they have {', '.join(map(str, items.columns))})")  # fmt: skip
    values = items[column].where(items[column].astype("string").str.strip() != "")
    return pd.Series(values.to_numpy(), index=items["id"].astype(str).to_numpy())


def label_scores(truth: pd.Series, cluster: pd.Series, ami_form: str) -> dict:
    """AMI with known labels; items the setting did not cluster count as outliers (-1)."""
    from semclust.validation.evaluate import external_scores

    scores = external_scores(truth.to_numpy(), cluster.fillna(-1).astype(int).to_numpy(),
                             average_method=ami_form)  # fmt: skip
    without = scores.without_outliers
    return {"ami": scores.with_outliers.ami, "ami_without_outliers": without and without.ami}


def _base_assignments(study: Study) -> pd.DataFrame:
    """Every item's id, and its description where the study has any (as in a run's table)."""
    items = study.items()
    base = pd.DataFrame({"id": items["id"].astype(str).to_numpy()})
    try:
        descriptions = study.descriptions()
    except SemclustError:  # image-only study: no description source
        return base
    return base.assign(description=descriptions.reindex(items["id"]).to_numpy())


def pair_judgement(codes: CodedPairs, options: ScoringOptions) -> tuple[str, float | None]:
    """Which codes say "together" for pair precision/recall: (dimension, threshold)."""
    from semclust.validation.evaluate.codes import BINARY_DIMENSIONS, GRADED_DIMENSIONS

    dimension = options.pair_dimension
    if dimension is None:
        preferred = [*BINARY_DIMENSIONS, *GRADED_DIMENSIONS]
        dimension = next(d for d in preferred if d in codes.dimensions)
    elif dimension not in codes.dimensions:
        raise GridError(
            f"pair dimension {dimension!r} is not in the codes ({', '.join(codes.dimensions)})"
        )
    return dimension, None if dimension in BINARY_DIMENSIONS else options.pair_threshold


def code_scores(assignments: pd.DataFrame, codes: CodedPairs, options: ScoringOptions) -> dict:
    """Grimmer-King quality per graded dimension and cross-validated pair precision/recall/F1."""
    from semclust.validation.evaluate import (
        EvaluationInputError,
        grimmer_king,
        pair_scores,
        pair_scores_cv,
    )
    from semclust.validation.evaluate.codes import GRADED_DIMENSIONS

    scores: dict[str, Any] = {}
    notes = []
    for d in (d for d in GRADED_DIMENSIONS if d in codes.dimensions):
        q = grimmer_king(
            assignments, codes, d, min_same=options.min_same, min_diff=options.min_diff
        )
        scores |= {d: q.score, f"{d}_n_same": q.n_same, f"{d}_n_diff": q.n_diff}
        notes += [f"{d}: {q.reason}"] if q.reason else []
    dimension, threshold = pair_judgement(codes, options)
    scores["pair_judgement"] = dimension if threshold is None else f"{dimension}>={threshold:g}"
    settings = {"dimension": dimension, "threshold": threshold}
    try:
        every = pair_scores_cv(
            assignments, codes, n_splits=options.folds, random_state=options.fold_seed,
            outliers="different", **settings,
        )  # fmt: skip
        clustered = pair_scores_cv(
            assignments, codes, n_splits=options.folds, random_state=options.fold_seed,
            outliers="exclude", **settings,
        )  # fmt: skip
    except EvaluationInputError as exc:
        notes.append(f"pairs: {exc}")
    else:
        scores |= every.mean | {f"{m}_std": v for m, v in every.std.items()}
        scores |= {f"{m}_clustered": v for m, v in clustered.mean.items()}
        scores["pairs_left_out"] = pair_scores(
            assignments, codes, outliers="exclude", **settings
        ).n_excluded - pair_scores(assignments, codes, outliers="different", **settings).n_excluded
    return scores | {"code_notes": notes}


def choose_criterion(results: pd.DataFrame, criterion: str | None = None) -> str:
    """``criterion`` checked, or the first of :data:`DEFAULT_CRITERIA` any setting has."""
    if criterion is not None:
        if criterion not in CRITERIA:
            raise GridError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
        return criterion
    return next((c for c in DEFAULT_CRITERIA if results[c].notna().any()), "silhouette")


def best_setting(results: pd.DataFrame, criterion: str) -> pd.Series:
    """The row with the best ``criterion`` (highest, or lowest for S_Dbw and Davies-Bouldin).

    Ties go to the setting listed first in the grid; settings without a value are skipped.
    """
    criterion = choose_criterion(results, criterion)
    scored = results[results[criterion].notna()]
    if scored.empty:
        hint = " (give --codes)" if criterion in CODE_SCORES else ""
        raise GridError(f"no setting has a {criterion} score{hint}; choose another criterion")
    values = pd.to_numeric(scored[criterion])
    return scored.loc[values.idxmax() if CRITERIA[criterion] else values.idxmin()]



def digest(*parts: Any) -> str:
    """Short content hash of JSON-able parts: ids of settings, reductions and scorings."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]
