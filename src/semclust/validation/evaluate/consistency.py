"""Human-coded within-cluster consistency (Zhang and Leung, section 3.4.3 and Appendix E).

Coders give a theme to a sample of items from every cluster (Zhang and Leung code 10
posts per cluster). A cluster's consistency is the share of its coded items that carry
its most frequent theme -- 7 of 10 posts on "protests about fraud" give 0.7 -- and a
clustering's is the mean over its clusters. It rewards coherent clusters only, not
distinct ones, so report it beside a between-cluster measure.

Themes are compared as text with surrounding spaces removed; an empty theme is an item
not coded. When two themes tie for most frequent, the one coded first is reported (the
score is the same either way).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from semclust.validation.evaluate.codes import (
    OUTLIER,
    EvaluationInputError,
    _first,
    index_assignments,
)


@dataclass(frozen=True)
class ConsistencyResult:
    """Within-cluster consistency per cluster and on average.

    Attributes
    ----------
    per_cluster : pandas.DataFrame
        ``cluster``, ``n_coded``, ``top_theme``, ``n_top``, ``consistency`` (n_top / n_coded).
    mean : float
        Unweighted mean over the clusters, as Zhang and Leung report it.
    """

    per_cluster: pd.DataFrame
    mean: float

    def to_dict(self) -> dict:
        return {"mean": self.mean, "per_cluster": self.per_cluster.to_dict(orient="records")}


def within_cluster_consistency(
    coded: pd.DataFrame,
    assignments: pd.DataFrame | None = None,
    *,
    theme: str = "theme",
    include_outliers: bool = False,
) -> ConsistencyResult:
    """Share of each cluster's coded items that carry its most frequent theme.

    Parameters
    ----------
    coded : DataFrame
        ``id`` and the theme column, plus ``cluster`` unless ``assignments`` is given.
    assignments : DataFrame, optional
        The run's assignments, to look up each item's cluster by ``id``.
    theme : str
        The theme column (e.g. one coder's, ``theme_ann``).
    include_outliers : bool
        Score the outliers (cluster -1) as if they were a cluster. Unclustered items
        are never scored.

    Raises
    ------
    EvaluationInputError
        Missing columns, a missing or duplicated id, an id not in the assignments, a
        cluster given twice (in ``coded`` and by ``assignments``), or no coded item.
    """
    items = _coded_items(coded, assignments, theme)
    if not include_outliers:
        items = items[items["cluster"] != OUTLIER]
    rows = []
    for cluster, themes in items.groupby("cluster", sort=True)["theme"]:
        top_theme, n_top = Counter(themes).most_common(1)[0]
        rows.append(
            {
                "cluster": int(cluster),
                "n_coded": len(themes),
                "top_theme": top_theme,
                "n_top": n_top,
                "consistency": n_top / len(themes),
            }
        )
    if not rows:
        raise EvaluationInputError("no coded item lies in a cluster: nothing to score")
    per_cluster = pd.DataFrame(rows)
    return ConsistencyResult(per_cluster=per_cluster, mean=float(per_cluster["consistency"].mean()))


def _coded_items(coded: pd.DataFrame, assignments: pd.DataFrame | None, theme: str) -> pd.DataFrame:
    """``cluster`` and cleaned ``theme`` of every clustered item with a theme."""
    if not isinstance(coded, pd.DataFrame):
        raise EvaluationInputError(f"coded items must be a DataFrame, not {type(coded).__name__}")
    if theme not in coded.columns:
        raise EvaluationInputError(
            f"coded items lack the theme column {theme!r}; they have {list(coded.columns)}"
        )
    if assignments is None:
        table = index_assignments(coded, "coded items")
    else:
        if "cluster" in coded.columns:
            raise EvaluationInputError(
                "coded items have their own 'cluster' column and assignments were given: "
                "drop the column, or leave out the assignments"
            )
        table = _look_up(coded, index_assignments(assignments))
    themes = coded[theme].where(coded[theme].notna(), "").astype(str).str.strip().to_numpy()
    items = pd.DataFrame({"cluster": table["cluster"].to_numpy(), "theme": themes})
    items = items[(items["theme"] != "") & items["cluster"].notna()]
    if items.empty:
        raise EvaluationInputError(f"no clustered item has a {theme!r}: nothing to score")
    return items


def _look_up(coded: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The assignments' rows for the coded ids, in the coded order."""
    if "id" not in coded.columns:
        raise EvaluationInputError(
            f"coded items lack an 'id' column; they have {list(coded.columns)}"
        )
    if (row := _first(coded["id"].isna())) is not None:
        raise EvaluationInputError(f"coded items row {row} has no id")
    ids = coded["id"].astype(str)
    if (row := _first(ids.duplicated())) is not None:
        raise EvaluationInputError(f"coded items row {row}: id {ids.iloc[row]!r} is coded twice")
    if (row := _first(~ids.isin(table.index))) is not None:
        raise EvaluationInputError(
            f"coded items row {row}: id {ids.iloc[row]!r} is not in the run's assignments"
        )
    return table.loc[ids]
