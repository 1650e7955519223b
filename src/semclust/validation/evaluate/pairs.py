"""Pair-counting precision, recall and F1 against human same/different judgements.

Casas et al. (section 2.4) have annotators say for sampled pairs whether the two images
belong in the same cluster, then score a clustering by *precision* (of the pairs it puts
together, the share the annotators put together) and *recall* (of the pairs the
annotators put together, the share it puts together); Arminio et al. report the F1 of the
same counts. The judgement is a binary ``same`` column, or a threshold on the 0-2
similarity codes (e.g. ``connotative >= 1``).

Pairs that touch an outlier (or an unclustered or undescribed image) are counted two
ways, and both are reported: on *all* coded pairs, where such an image is apart from
every other (``outliers="different"``, the default), and on *clustered* pairs only
(``outliers="exclude"``), with the number left out. Leaving them out flatters a run that
throws hard images away, so the all-pairs form is the one to rank runs by.

Casas et al. compare settings by 5-fold cross-validation over the pairs. The folds here
are drawn from the coded pairs alone, before any run is consulted, so every run scored
with the same codes and seed is scored on the very same folds.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from os import PathLike
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from semclust.validation.evaluate.agreement import ConsensusMethod, consensus_codes
from semclust.validation.evaluate.codes import (
    BINARY_DIMENSIONS,
    SAME,
    TOP_CODE,
    UNCLUSTERED,
    UNDESCRIBED,
    CodedPairs,
    EvaluationInputError,
    load_codes,
    match_pairs,
)

logger = logging.getLogger(__name__)

Outliers = Literal["exclude", "different"]
METRICS = ("precision", "recall", "f1")
#: The two forms reported: name -> how pairs touching an outlier are treated.
PAIR_FORMS = {"all_pairs": "different", "clustered_pairs": "exclude"}


@dataclass(frozen=True)
class PairScores:
    """Pair-counting agreement of a clustering with human judgements.

    ``precision``, ``recall`` and ``f1`` (their harmonic mean) are NaN where undefined
    (no pair predicted, or judged, to belong together). ``tp``: together for both; ``fp``: together only in
    the clustering; ``fn``: together only for the humans; ``tn``: apart for both.
    """

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int
    n_excluded: int

    @property
    def n_pairs(self) -> int:
        """Pairs scored."""
        return self.tp + self.fp + self.fn + self.tn

    def to_dict(self) -> dict:
        return asdict(self) | {"n_pairs": self.n_pairs}


@dataclass(frozen=True)
class PairScoresCV:
    """Pair scores per cross-validation fold, with their mean and standard deviation.

    ``mean`` and ``std`` (population, ``ddof=0``, as scikit-learn's search reports) skip
    folds where a metric is undefined.
    """

    folds: tuple[PairScores, ...]
    mean: dict[str, float]
    std: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "folds": [fold.to_dict() for fold in self.folds],
            "mean": dict(self.mean),
            "std": dict(self.std),
        }


def human_same(
    codes: CodedPairs,
    dimension: str = "same",
    threshold: float | None = None,
    consensus: ConsensusMethod = "auto",
) -> pd.Series:
    """Whether the humans put each pair together: consensus code >= ``threshold``.

    ``threshold`` is on the stored scale (0-2 for graded dimensions) and must be given
    for them; for ``same`` it defaults to 1 (with ``consensus="mean"``, unanimity).
    Returns a nullable boolean Series, NA where a pair is not coded.
    """
    if threshold is None:
        if dimension not in BINARY_DIMENSIONS:
            raise EvaluationInputError(
                f"{dimension!r} codes are graded 0-2: give the threshold at which a pair "
                "counts as belonging together (e.g. threshold=1 or 2)"
            )
        threshold = 1
    top = 1 if dimension in BINARY_DIMENSIONS else TOP_CODE
    if not 0 < threshold <= top:
        raise EvaluationInputError(f"threshold must be in (0, {top}], not {threshold!r}")
    values = consensus_codes(codes, dimension, consensus)
    return (values >= threshold).astype("boolean").mask(values.isna())


def pair_scores(
    assignments: pd.DataFrame,
    codes: CodedPairs | pd.DataFrame | str | PathLike,
    *,
    dimension: str = "same",
    threshold: float | None = None,
    consensus: ConsensusMethod = "auto",
    outliers: Outliers = "different",
) -> PairScores:
    """Pair precision, recall and F1 of a clustering against coded pairs.

    Parameters
    ----------
    assignments : DataFrame
        The run's assignments (``id``, ``cluster``, optionally ``description``).
    codes : CodedPairs, DataFrame or CSV path
    dimension, threshold, consensus
        Which judgement says "together" (:func:`human_same`).
    outliers : {"different", "exclude"}
        Pairs with an outlier, unclustered or undescribed image: counted as put apart
        by the clustering (default: scores on all coded pairs) or left out (scores on
        clustered pairs only, as the Grimmer-King score does; ``n_excluded`` says how
        many).
    """
    truth, predicted, left_out = _judgements(
        assignments, load_codes(codes), dimension, threshold, consensus, outliers
    )
    return _score(truth, predicted, left_out)


def pair_scores_cv(
    assignments: pd.DataFrame,
    codes: CodedPairs | pd.DataFrame | str | PathLike,
    *,
    n_splits: int = 5,
    random_state: int | None = 0,
    dimension: str = "same",
    threshold: float | None = None,
    consensus: ConsensusMethod = "auto",
    outliers: Outliers = "different",
) -> PairScoresCV:
    """:func:`pair_scores` on each of ``n_splits`` folds of the coded pairs.

    Folds are stratified by the human judgement and drawn from the codes only (seeded by
    ``random_state``), so different runs are compared on identical folds. Other
    parameters as in :func:`pair_scores`.
    """
    truth, predicted, left_out = _judgements(
        assignments, load_codes(codes), dimension, threshold, consensus, outliers
    )
    coded = np.flatnonzero(truth.notna().to_numpy())
    labels = truth.iloc[coded].to_numpy(dtype=bool)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    try:
        splits = list(splitter.split(np.zeros((len(coded), 1)), labels))
    except ValueError:  # too few pairs in a class for the folds
        together = int(labels.sum())
        raise EvaluationInputError(
            f"{n_splits}-fold cross-validation needs at least {n_splits} coded pairs judged together "
            f"and {n_splits} judged apart; there are {together} and {len(labels) - together}"
        ) from None
    folds = tuple(
        _score(truth.iloc[rows], predicted.iloc[rows], left_out.iloc[rows])
        for rows in (coded[test] for _, test in splits)
    )
    table = pd.DataFrame([{m: getattr(fold, m) for m in METRICS} for fold in folds])
    undefined = table.isna().any(axis=1)
    if undefined.any():
        logger.warning(
            "pair scores undefined in fold(s) %s; left out of the mean",
            list(np.flatnonzero(undefined)),
        )
    return PairScoresCV(
        folds=folds,
        mean={m: float(table[m].mean()) for m in METRICS},
        std={m: float(table[m].std(ddof=0)) for m in METRICS},
    )


def _judgements(
    assignments: pd.DataFrame,
    codes: CodedPairs,
    dimension: str,
    threshold: float | None,
    consensus: ConsensusMethod,
    outliers: Outliers,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per coded pair: the humans' judgement (NA = not coded), the clustering's, left out."""
    if outliers not in ("exclude", "different"):
        raise EvaluationInputError(f"outliers must be 'exclude' or 'different', not {outliers!r}")
    truth = human_same(codes, dimension, threshold, consensus)
    status = match_pairs(assignments, codes)
    left_out = status.isin([UNCLUSTERED, UNDESCRIBED]) & (outliers == "exclude")
    return truth, status == SAME, left_out


def _score(truth: pd.Series, predicted: pd.Series, left_out: pd.Series) -> PairScores:
    """Count the four kinds of pair among the coded ones not left out, and score them."""
    kept = (truth.notna() & ~left_out).to_numpy(dtype=bool)
    y_true = truth.to_numpy()[kept].astype(bool)
    y_pred = predicted.to_numpy()[kept].astype(bool)
    if not kept.any():
        logger.warning("no coded pair left to score: pair scores are undefined")
        return PairScores(np.nan, np.nan, np.nan, 0, 0, 0, 0, n_excluded=len(kept))
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[False, True]).ravel()
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=np.nan
    )
    return PairScores(
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        tp=int(tp),
        fp=int(fp),
        fn=int(fn),
        tn=int(tn),
        n_excluded=int((~kept).sum()),
    )
