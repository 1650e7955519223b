"""Agreement between two clusterings of the same items (e.g. text route vs image route).

Zhang & Leung (4.2.1, appendix A.1) measure how far text and image clusters of the same
posts agree with the adjusted mutual information (AMI: 0 = chance, 1 = identical
partitions), and show the co-occurrence of the two labelings as a heatmap whose columns
are permuted with the Hungarian algorithm so that matching clusters sit on the diagonal
(their Figure 3). A strong diagonal means the two routes find the same themes.

A labeling is a Series ``id -> cluster`` or an assignments DataFrame with ``id`` and
``cluster`` columns. The two are aligned by id, never by row position, and must cover the
same ids. Outliers (-1) count as one more label unless ``drop_outliers`` is set, which
drops every item that is an outlier in either run. AMI is the paper's max-normalised form
unless another ``form`` is asked for (:mod:`semclust.validation.evaluate.ami`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.ami import PAPER_FORM, adjusted_mutual_info
from semclust.validation.evaluate.sdbw import OUTLIER, check_labels

Labeling = pd.Series | pd.DataFrame


def as_labeling(run: Labeling, *, id_col: str = "id", label_col: str = "cluster") -> pd.Series:
    """Series of int cluster labels indexed by str id, from a Series or assignments frame."""
    if isinstance(run, pd.DataFrame):
        missing = [c for c in (id_col, label_col) if c not in run.columns]
        if missing:
            raise SemclustError(f"the assignments table has no column {missing[0]!r}")
        series = pd.Series(run[label_col].to_numpy(), index=run[id_col].to_numpy())
    elif isinstance(run, pd.Series):
        series = run
    else:
        raise SemclustError(
            f"a labeling must be a Series (id -> cluster) or a DataFrame, not {type(run)}"
        )
    ids = series.index.astype(str)
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise SemclustError(f"id {duplicated[0]!r} appears more than once in one labeling")
    return pd.Series(check_labels(series.to_numpy(), name="cluster"), index=ids)


def align_labelings(
    a: Labeling, b: Labeling, *, drop_outliers: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of ``a`` and ``b`` for the same ids in the same order."""
    a, b = as_labeling(a), as_labeling(b)
    only_a, only_b = a.index.difference(b.index), b.index.difference(a.index)
    if len(only_a) or len(only_b):
        example = only_a[0] if len(only_a) else only_b[0]
        raise SemclustError(
            f"the two runs cover different items: {len(only_a)} ids only in the first, "
            f"{len(only_b)} only in the second (e.g. {example!r})"
        )
    la, lb = a.to_numpy(), b.reindex(a.index).to_numpy()
    if drop_outliers:
        keep = (la != OUTLIER) & (lb != OUTLIER)
        la, lb = la[keep], lb[keep]
    if len(la) == 0:
        raise SemclustError("no items left to compare (empty, or all outliers)")
    return la, lb


def ami(
    a: Labeling, b: Labeling, *, drop_outliers: bool = False, form: str = PAPER_FORM
) -> float:
    """Adjusted mutual information of two labelings of the same ids (symmetric).

    ``form`` is the normaliser: "max" (Zhang & Leung A.1, the default) or "arithmetic"
    (scikit-learn's default), see :mod:`semclust.validation.evaluate.ami`.
    """
    return adjusted_mutual_info(*align_labelings(a, b, drop_outliers=drop_outliers), form=form)


def hungarian_column_order(counts: np.ndarray) -> np.ndarray:
    """Column order putting each row's one-to-one best match (max total count) on the diagonal.

    Matched columns come in the order of their rows, unmatched columns after them. With
    more rows than columns some rows have no match, and only the matched pairs line up.
    """
    rows, cols = linear_sum_assignment(counts, maximize=True)
    matched = cols[np.argsort(rows)]
    unmatched = np.setdiff1d(np.arange(counts.shape[1]), matched)
    return np.concatenate([matched, unmatched])


def cooccurrence(
    a: Labeling,
    b: Labeling,
    *,
    normalize: bool = True,
    drop_outliers: bool = False,
    names: tuple[str, str] = ("a", "b"),
) -> pd.DataFrame:
    """Contingency table of two labelings, columns permuted by the Hungarian algorithm.

    Rows are ``a``'s clusters (sorted), columns ``b``'s; a cell holds the share of all
    compared items (``normalize=True``, as in the paper's Figure 3) or their count.
    ``names`` become the index and column titles (e.g. ``("text", "image")``).
    """
    la, lb = align_labelings(a, b, drop_outliers=drop_outliers)
    counts = pd.crosstab(la, lb, rownames=[names[0]], colnames=[names[1]])
    counts = counts.iloc[:, hungarian_column_order(counts.to_numpy())]
    return counts / len(la) if normalize else counts
