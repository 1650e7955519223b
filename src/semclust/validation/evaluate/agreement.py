"""Agreement between coders, and the consensus code that the scores use.

Arminio et al. (section 2) report Krippendorff's alpha between the coders of image pairs;
Casas et al. and the interpretability test (Arminio et al., section 3.2) report Cohen's
kappa. The numbers come from the reference implementations (the ``krippendorff``
package and scikit-learn); this module only shapes the codes for them, so that coders
who skipped items and any number of coders are handled the same way everywhere.

``ratings`` below is a DataFrame with one row per item, one column per coder, and NaN
where a coder did not code an item (see :meth:`CodedPairs.ratings`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from semclust.validation.evaluate.codes import GRADED_DIMENSIONS, CodedPairs, EvaluationInputError

logger = logging.getLogger(__name__)

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS = ("nominal", "ordinal", "interval", "ratio")
ConsensusMethod = Literal["auto", "column", "mean", "majority"]


@dataclass(frozen=True)
class CoderAgreement:
    """How well the coders of one dimension agree.

    Attributes
    ----------
    dimension : str
    coders : tuple of str
    n_items : int
        Items coded by at least two coders (the only ones that carry information).
    alpha : dict
        Krippendorff's alpha per level of measurement.
    kappa : pandas.DataFrame
        Cohen's kappa per pair of coders: ``coder_a``, ``coder_b``, ``n_items``, ``kappa``.
    """

    dimension: str
    coders: tuple[str, ...]
    n_items: int
    alpha: dict[str, float]
    kappa: pd.DataFrame

    @property
    def mean_kappa(self) -> float:
        """Mean of the pairwise kappas, as Arminio et al. report it."""
        return float(self.kappa["kappa"].mean())

    def to_dict(self) -> dict:
        return {
            "dimension": self.dimension,
            "coders": list(self.coders),
            "n_items": self.n_items,
            "alpha": dict(self.alpha),
            "kappa": self.kappa.to_dict(orient="records"),
            "mean_kappa": self.mean_kappa,
        }


def krippendorff_alpha(ratings: pd.DataFrame, level: Level = "nominal") -> float:
    """Krippendorff's alpha for any number of coders, with missing codes.

    Parameters
    ----------
    ratings : DataFrame
        Items x coders, numeric, NaN = not coded.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement; the 0-2 similarity codes are ordinal.

    Raises
    ------
    EvaluationInputError
        Fewer than two coders, no item coded twice, a single value throughout (alpha is
        then undefined), or codes that are not numbers.
    """
    if level not in LEVELS:
        raise EvaluationInputError(f"level must be one of {LEVELS}, not {level!r}")
    matrix = _coder_matrix(ratings)
    if not ((~np.isnan(matrix)).sum(axis=0) >= 2).any():
        raise EvaluationInputError("Krippendorff's alpha needs an item coded by two coders")
    try:
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
    except ValueError as exc:  # e.g. every code is the same value
        raise EvaluationInputError(f"Krippendorff's alpha is undefined here: {exc}") from exc


def pairwise_kappa(ratings: pd.DataFrame, weights: str | None = None) -> pd.DataFrame:
    """Cohen's kappa for each pair of coders, on the items both coded.

    Parameters
    ----------
    ratings : DataFrame
        Items x coders; values may be any labels, NaN = not coded.
    weights : {None, "linear", "quadratic"}
        Passed to :func:`sklearn.metrics.cohen_kappa_score` (weighted kappa for ordinal codes).

    Returns
    -------
    pandas.DataFrame
        ``coder_a``, ``coder_b``, ``n_items`` (coded by both), ``kappa`` (NaN when the
        pair shares no item or kappa is undefined, e.g. both always gave one label).
    """
    _require_coders(ratings)
    rows = []
    for a, b in combinations(ratings.columns, 2):
        both = ratings[[a, b]].dropna()
        kappa = _kappa(both[a].tolist(), both[b].tolist(), weights) if len(both) else np.nan
        rows.append({"coder_a": a, "coder_b": b, "n_items": len(both), "kappa": float(kappa)})
    return pd.DataFrame(rows, columns=["coder_a", "coder_b", "n_items", "kappa"])


def majority_vote(ratings: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The most frequent label per item; a tie goes to the first coder holding a top label.

    This is the rule of Arminio et al. (section 3.2): "in the cases with three different
    labels, we just took the label of the first evaluator". Coders count in column order.

    Returns
    -------
    labels : pandas.Series
        The majority label (NaN where no coder coded the item).
    tied : pandas.Series of bool
        True where the label was decided by the tie rule.
    """
    labels, tied = [], []
    for row in ratings.itertuples(index=False):
        given = [value for value in row if not pd.isna(value)]
        counts = Counter(given)
        top = max(counts.values(), default=0)
        leaders = [value for value in given if counts[value] == top]
        labels.append(leaders[0] if leaders else np.nan)
        tied.append(len(set(leaders)) > 1)
    return (
        pd.Series(labels, index=ratings.index, name="majority"),
        pd.Series(tied, index=ratings.index, name="tied"),
    )


def consensus(ratings: pd.DataFrame, method: Literal["mean", "majority"] = "mean") -> pd.Series:
    """One code per item from several coders: their mean, or their majority label."""
    if ratings.shape[1] == 0:
        raise EvaluationInputError("a consensus needs at least one coder column")
    if method == "mean":
        return _coder_frame(ratings).mean(axis=1).rename("consensus")
    if method == "majority":
        labels, tied = majority_vote(ratings)
        logger.info(
            "majority consensus: %d of %d items decided by the tie rule", tied.sum(), len(tied)
        )
        return labels.rename("consensus")
    raise EvaluationInputError(f"consensus method must be 'mean' or 'majority', not {method!r}")


def consensus_codes(
    codes: CodedPairs, dimension: str, method: ConsensusMethod = "auto"
) -> pd.Series:
    """The code of ``dimension`` each pair is scored with (NaN = not coded).

    Parameters
    ----------
    codes : CodedPairs
    dimension : str
    method : {"auto", "column", "mean", "majority"}
        ``"column"`` takes the agreed ``<dimension>`` column; ``"mean"`` and ``"majority"``
        combine the coders' columns (:func:`consensus`). ``"auto"`` takes the agreed
        column when there is one, else the coders' mean (graded) or majority (binary).
    """
    if dimension not in codes.dimensions:
        raise EvaluationInputError(
            f"the codes have no {dimension!r} column (they have {list(codes.dimensions)})"
        )
    column = codes.consensus_column(dimension)
    if method == "auto":
        if column is not None:
            method = "column"
        else:
            method = "mean" if dimension in GRADED_DIMENSIONS else "majority"
    if method == "column":
        if column is None:
            raise EvaluationInputError(
                f"the codes have no agreed {dimension!r} column; use method='mean' or "
                "'majority' to combine the coders"
            )
        return codes.frame[column].rename("consensus")
    return consensus(codes.ratings(dimension), method)


def coder_agreement(
    codes: CodedPairs,
    dimension: str,
    levels: tuple[str, ...] = ("nominal", "ordinal", "interval"),
    kappa_weights: str | None = None,
) -> CoderAgreement:
    """Krippendorff's alpha and pairwise Cohen's kappa between the coders of ``dimension``."""
    ratings = codes.ratings(dimension)
    _require_coders(ratings, f"{dimension!r} coders")
    return CoderAgreement(
        dimension=dimension,
        coders=tuple(ratings.columns),
        n_items=int((ratings.notna().sum(axis=1) >= 2).sum()),
        alpha={level: krippendorff_alpha(ratings, level) for level in levels},
        kappa=pairwise_kappa(ratings, kappa_weights),
    )


def _kappa(first: list, second: list, weights: str | None) -> float:
    """Cohen's kappa of two label lists (lists, because sklearn rejects object arrays of ints)."""
    try:
        return float(cohen_kappa_score(first, second, weights=weights))
    except ValueError as exc:  # e.g. numbers mixed with text, or an unknown weights
        raise EvaluationInputError(f"Cohen's kappa cannot be computed: {exc}") from exc


def _coder_frame(ratings: pd.DataFrame) -> pd.DataFrame:
    """Ratings as floats; a label that is not a number raises, naming item and coder."""
    numbers = ratings.apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna() & ratings.notna()
    if bad.to_numpy().any():
        item, coder = bad.stack().loc[lambda s: s].index[0]
        raise EvaluationInputError(
            f"item {item!r}, coder {coder!r}: {ratings.at[item, coder]!r} is not a number"
        )
    return numbers.astype(float)


def _coder_matrix(ratings: pd.DataFrame) -> np.ndarray:
    """Coders x items float matrix, the layout the ``krippendorff`` package expects."""
    _require_coders(ratings)
    return _coder_frame(ratings).to_numpy().T


def _require_coders(ratings: pd.DataFrame, what: str = "ratings") -> None:
    if not isinstance(ratings, pd.DataFrame):
        raise EvaluationInputError(f"ratings must be a DataFrame, got {type(ratings).__name__}")
    if ratings.shape[1] < 2:
        raise EvaluationInputError(
            f"agreement needs at least two coders; {what} has {list(ratings.columns)}"
        )
