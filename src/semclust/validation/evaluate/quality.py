"""Grimmer-King cluster quality from human-coded image pairs (Arminio et al. 2024, section 2).

Coders rate pairs of images, unaware of the clusters, as unrelated (0), loosely related
(1) or closely related (2), once for *denotative* similarity (same visual elements) and
once for *connotative* similarity (same social meaning). The quality of a clustering is
the mean code of the pairs it puts in one cluster minus the mean code of the pairs it
splits: from -2 to 2, about 0 for a random clustering (Grimmer and King 2011).

A pair with an outlier, an unclustered image, or an image without a description counts
in neither group. With few pairs left the difference is noise, so, like the paper, the
score is only reported when at least 50 same-cluster and 50 different-cluster pairs
remain.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from os import PathLike

import pandas as pd

from semclust.validation.evaluate.agreement import ConsensusMethod, consensus_codes
from semclust.validation.evaluate.codes import (
    DIFFERENT,
    GRADED_DIMENSIONS,
    SAME,
    CodedPairs,
    EvaluationInputError,
    load_codes,
    match_pairs,
)

logger = logging.getLogger(__name__)

#: Fewest same-cluster and different-cluster pairs for a reported score (Arminio et al.).
MIN_PAIRS = 50


@dataclass(frozen=True)
class QualityScore:
    """Grimmer-King quality of one clustering on one dimension.

    Attributes
    ----------
    dimension : str
        ``"denotative"`` or ``"connotative"``.
    score : float or None
        ``mean_same - mean_diff`` in [-2, 2]; None when not scorable.
    mean_same, mean_diff : float or None
        Mean code of the same-cluster / different-cluster pairs (None when there are none).
    n_same, n_diff : int
        Pairs in each group.
    n_excluded : int
        Pairs in neither group: an outlier or unclustered image, an image without a
        description, or no code on this dimension.
    scorable : bool
        Whether enough pairs remain in both groups.
    reason : str or None
        Why the score is not reported (None when it is).
    """

    dimension: str
    score: float | None
    mean_same: float | None
    mean_diff: float | None
    n_same: int
    n_diff: int
    n_excluded: int
    scorable: bool
    reason: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def grimmer_king(
    assignments: pd.DataFrame,
    codes: CodedPairs | pd.DataFrame | str | PathLike,
    dimension: str = "connotative",
    *,
    consensus: ConsensusMethod = "auto",
    min_same: int = MIN_PAIRS,
    min_diff: int = MIN_PAIRS,
) -> QualityScore:
    """Score a clustering against coded pairs on one dimension.

    Parameters
    ----------
    assignments : DataFrame
        The run's assignments (``id``, ``cluster``, optionally ``description``).
    codes : CodedPairs, DataFrame or CSV path
        Coded pairs (see :mod:`semclust.validation.evaluate.codes`); a DataFrame or path is read
        with :func:`load_codes` and ``scale="auto"``.
    dimension : {"connotative", "denotative"}
    consensus : {"auto", "column", "mean", "majority"}
        How one code per pair is formed (:func:`consensus_codes`).
    min_same, min_diff : int
        Fewest same-cluster / different-cluster pairs for a reported score.

    Returns
    -------
    QualityScore
    """
    if dimension not in GRADED_DIMENSIONS:
        raise EvaluationInputError(
            f"Grimmer-King quality scores a graded dimension {GRADED_DIMENSIONS}, not "
            f"{dimension!r}; score binary 'same' judgements with pair_scores"
        )
    for name, value in (("min_same", min_same), ("min_diff", min_diff)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EvaluationInputError(f"{name} must be a positive whole number, not {value!r}")
    codes = load_codes(codes)
    status = match_pairs(assignments, codes)
    values = consensus_codes(codes, dimension, consensus)
    same = values[(status == SAME) & values.notna()]
    diff = values[(status == DIFFERENT) & values.notna()]
    counts = status.value_counts()
    logger.info("%s quality: %s", dimension, ", ".join(f"{n} {kind} pairs" for kind, n in counts.items()))
    reason = _shortfall(len(same), len(diff), min_same, min_diff)
    mean_same = float(same.mean()) if len(same) else None
    mean_diff = float(diff.mean()) if len(diff) else None
    return QualityScore(
        dimension=dimension,
        score=None if reason else mean_same - mean_diff,
        mean_same=mean_same,
        mean_diff=mean_diff,
        n_same=len(same),
        n_diff=len(diff),
        n_excluded=len(values) - len(same) - len(diff),
        scorable=reason is None,
        reason=reason,
    )


def grimmer_king_by_dimension(
    assignments: pd.DataFrame,
    codes: CodedPairs | pd.DataFrame | str | PathLike,
    **options,
) -> dict[str, QualityScore]:
    """:func:`grimmer_king` for every graded dimension the codes have, by dimension name."""
    codes = load_codes(codes)
    dimensions = [d for d in codes.dimensions if d in GRADED_DIMENSIONS]
    if not dimensions:
        raise EvaluationInputError(
            f"the codes have no graded dimension {GRADED_DIMENSIONS} to score"
        )
    return {d: grimmer_king(assignments, codes, d, **options) for d in dimensions}


def _shortfall(n_same: int, n_diff: int, min_same: int, min_diff: int) -> str | None:
    """Say which group has too few pairs for a score, or None when both have enough."""
    short = [
        f"{n} {group} pairs (fewer than {least})"
        for n, least, group in (
            (n_same, min_same, "same-cluster"),
            (n_diff, min_diff, "different-cluster"),
        )
        if n < least
    ]
    return "only " + " and ".join(short) if short else None
