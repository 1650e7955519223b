"""Agreement of a clustering with known labels, where a dataset has them.

AMI (by default in Zhang and Leung's max-normalised form, appendix A.1; see
:mod:`semclust.validation.evaluate.ami`), ARI, NMI, homogeneity and completeness, all from
scikit-learn. HDBSCAN's outliers (cluster -1) are no cluster, and how they are counted
moves every score, so both readings are reported: the outliers as one group of their
own, and the outliers left out (which flatters a clustering that discards hard items).
Items without a label are left out of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn import metrics

from semclust.validation.evaluate.ami import AMI_FORMS, PAPER_FORM
from semclust.validation.evaluate.codes import OUTLIER, EvaluationInputError, _first, _plain

AverageMethod = Literal["min", "geometric", "arithmetic", "max"]


@dataclass(frozen=True)
class LabelAgreement:
    """Scores of one reading (with or without the outliers) against the labels."""

    ami: float
    ari: float
    nmi: float
    homogeneity: float
    completeness: float
    n_items: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExternalScores:
    """Both readings, and how many items each choice set aside.

    ``without_outliers`` is None when every labelled item is an outlier.
    """

    with_outliers: LabelAgreement
    without_outliers: LabelAgreement | None
    n_outliers: int
    n_unlabelled: int
    ami_form: str = PAPER_FORM

    def to_dict(self) -> dict:
        return {
            "ami_form": self.ami_form,
            "with_outliers": self.with_outliers.to_dict(),
            "without_outliers": self.without_outliers and self.without_outliers.to_dict(),
            "n_outliers": self.n_outliers,
            "n_unlabelled": self.n_unlabelled,
        }


def external_scores(
    labels_true: Sequence | pd.Series | np.ndarray,
    labels_pred: Sequence | pd.Series | np.ndarray,
    *,
    average_method: AverageMethod = PAPER_FORM,
) -> ExternalScores:
    """Score cluster labels against known labels.

    Parameters
    ----------
    labels_true : array-like
        Known labels, any type; missing (NaN/None) = unlabelled, left out.
    labels_pred : array-like of int
        Cluster per item, -1 for outliers (e.g. ``assignments["cluster"]``).
    average_method : {"max", "arithmetic", "geometric", "min"}
        Normaliser of AMI and NMI: "max" (default) is Zhang and Leung's formula (A.1),
        "arithmetic" scikit-learn's default.

    Raises
    ------
    EvaluationInputError
        Different lengths, no labelled item, or a cluster that is missing or not a
        whole number.
    """
    if average_method not in AMI_FORMS:
        raise EvaluationInputError(
            f"average_method must be one of {AMI_FORMS}, not {average_method!r}"
        )
    truth = pd.Series(np.asarray(labels_true, dtype=object))
    clusters = pd.Series(np.asarray(labels_pred, dtype=object))
    if len(truth) != len(clusters):
        raise EvaluationInputError(
            f"{len(truth)} known labels but {len(clusters)} cluster labels: one per item each"
        )
    clusters = _whole_numbers(clusters)
    labelled = truth.notna().to_numpy()
    if not labelled.any():
        raise EvaluationInputError("no item has a known label: nothing to compare with")
    truth, clusters = truth[labelled].astype(str).to_numpy(), clusters[labelled]
    clustered = clusters != OUTLIER
    return ExternalScores(
        with_outliers=_agreement(truth, clusters, average_method),
        without_outliers=(
            _agreement(truth[clustered], clusters[clustered], average_method)
            if clustered.any()
            else None
        ),
        n_outliers=int((~clustered).sum()),
        n_unlabelled=int((~labelled).sum()),
        ami_form=average_method,
    )


def _whole_numbers(clusters: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(clusters, errors="coerce")
    if (row := _first(numbers.isna() | (numbers % 1 != 0))) is not None:
        raise EvaluationInputError(
            f"item {row}: cluster {_plain(clusters.iloc[row])!r} is not a whole number"
        )
    return numbers.to_numpy(dtype=np.int64)


def _agreement(truth: np.ndarray, clusters: np.ndarray, average_method: str) -> LabelAgreement:
    homogeneity, completeness, _ = metrics.homogeneity_completeness_v_measure(truth, clusters)
    return LabelAgreement(
        ami=float(
            metrics.adjusted_mutual_info_score(truth, clusters, average_method=average_method)
        ),
        ari=float(metrics.adjusted_rand_score(truth, clusters)),
        nmi=float(
            metrics.normalized_mutual_info_score(truth, clusters, average_method=average_method)
        ),
        homogeneity=float(homogeneity),
        completeness=float(completeness),
        n_items=len(truth),
    )
