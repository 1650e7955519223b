"""Data loss from pruning to the largest clusters (Zhang & Leung, 3.4.4 and 5.2).

When a run yields many small clusters (e.g. text label x image label combinations), a
common remedy is to keep only the k largest and drop the rest. The data loss of that
choice is the share of all items that end up outside the kept clusters. Outliers (label
-1) are never kept, so the curve falls from 1 towards the outlier share as k grows to the
number of clusters K: with HDBSCAN that floor can be high (the paper's Figure 8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.sdbw import OUTLIER, check_labels


@dataclass(frozen=True)
class DataLossCurve:
    """Data loss for keeping the top-k clusters, for every k.

    Attributes
    ----------
    table : DataFrame
        One row per k = 1..K: ``k``, ``cluster`` (the k-th largest; ties broken by the
        smaller id), ``size``, ``kept`` (items in the top k) and ``data_loss`` (share of
        all items, outliers included, outside the top k).
    outlier_share : float
        Share of items labelled -1: the data loss even when every cluster is kept.
    n_items : int
    """

    table: pd.DataFrame
    outlier_share: float
    n_items: int


def data_loss_curve(labels: ArrayLike) -> DataLossCurve:
    """Share of items lost when only the k largest clusters are kept, for k = 1..K."""
    labels = check_labels(labels)
    if len(labels) == 0:
        raise SemclustError("data loss needs at least one item; labels is empty")
    n_outliers = int((labels == OUTLIER).sum())
    ids, sizes = np.unique(labels[labels != OUTLIER], return_counts=True)
    if len(ids) == 0:
        raise SemclustError(f"all {len(labels)} items are outliers (-1): there is no cluster")
    order = np.lexsort((ids, -sizes))  # largest first, then smaller id
    kept = np.cumsum(sizes[order])
    table = pd.DataFrame(
        {
            "k": np.arange(1, len(ids) + 1),
            "cluster": ids[order],
            "size": sizes[order],
            "kept": kept,
            "data_loss": (len(labels) - kept) / len(labels),
        }
    )
    return DataLossCurve(table=table, outlier_share=n_outliers / len(labels), n_items=len(labels))
