"""One run as the explore app and the exports read it: items, clusters, names, orders, failures.

Everything is computed once per run from its folder and the study's items, then served
from memory: a gallery page is a slice of a precomputed order, so a 20,000-item cluster
opens as fast as a 20-item one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.exploration.refine import cluster_names
from semclust.stages.report import OUTLIER, cluster_colours, failure_kind
from semclust.study.runs import Run

SORTS = ("centroid", "probability", "column")


@dataclass(frozen=True)
class ClusterInfo:
    cluster: int
    size: int
    name: str
    summary: str
    keywords: list[tuple[str, float]]
    colour: str

    @property
    def title(self) -> str:
        if self.cluster == OUTLIER:
            return "Outliers"
        return f"{self.cluster}: {self.name}" if self.name else f"Cluster {self.cluster}"


class RunView:
    """A loaded run, indexed for galleries, the map, item look-ups and the failures page."""

    def __init__(self, study_folder: Path, run: Run, items: pd.DataFrame):
        self.study_folder = Path(study_folder)
        self.run = run
        table = run.assignments.copy()
        table["id"] = table["id"].astype(str)
        wanted = ["id"] + [c for c in ("sha256", "status") if c not in table.columns]  # for thumbnails
        extra = items[wanted].astype({"id": str})
        self.table = table.merge(extra, on="id", how="left").set_index("id", drop=False)
        self.clustered = self.table[self.table["cluster"].notna()]
        self.labels = self.clustered["cluster"].astype(int).to_numpy()
        self.names = cluster_names(run)
        self.clusters = self._cluster_infos()
        self.by_cluster = {c.cluster: np.flatnonzero(self.labels == c.cluster) for c in self.clusters}

    @property
    def id(self) -> str:
        return self.run.id

    def _cluster_infos(self) -> list[ClusterInfo]:
        sizes = pd.Series(self.labels).value_counts()
        order = sorted(sizes.index, key=lambda c: (c == OUTLIER, -sizes[c], c))
        colours = cluster_colours(order)
        keywords = {}
        if self.run.clusters is not None:
            keywords = {int(r["cluster"]): r["keywords"] for r in self.run.clusters.to_dict("records")}
        return [ClusterInfo(int(c), int(sizes[c]), self.names.get(int(c), {}).get("name", ""),
                            self.names.get(int(c), {}).get("summary", ""), keywords.get(int(c), []),
                            colours[c]) for c in order]

    def cluster(self, number: int) -> ClusterInfo:
        for info in self.clusters:
            if info.cluster == number:
                return info
        raise SemclustError(f"run {self.id} has no cluster {number}")

    def input_columns(self) -> list[str]:
        """The user's own columns (sortable and filterable)."""
        skip = {"id", "image", "cluster", "cluster_name", "probability", "description", "centroid_distance",
                "exemplar", "note", "sha256", "status", "fitted"}
        return [c for c in self.run.assignments.columns if c not in skip]

    def members(self, number: int, sort: str = "centroid", column: str | None = None,
                descending: bool = False, filter_column: str | None = None,
                filter_value: str | None = None) -> pd.DataFrame:
        """The cluster's rows in the asked order (exemplars first for ``centroid``)."""
        self.cluster(number)
        rows = self._ordered(number, sort, column, descending)
        if filter_column:
            rows = rows[self.filter_mask(rows, filter_column, filter_value)]
        return rows

    @functools.lru_cache(maxsize=64)  # noqa: B019  (one view per run; the cache dies with it)
    def _ordered(self, number: int, sort: str, column: str | None, descending: bool) -> pd.DataFrame:
        rows = self.clustered.iloc[self.by_cluster[number]]
        if sort == "centroid":
            key = rows["centroid_distance"]
        elif sort == "probability":
            key = -pd.to_numeric(rows["probability"], errors="coerce")
        elif sort == "column":
            if column not in self.input_columns():
                raise SemclustError(f"cannot sort by {column!r}; columns: {', '.join(self.input_columns())}")
            key = rows[column]
            numeric = pd.to_numeric(key, errors="coerce")
            key = numeric if numeric.notna().sum() >= key.notna().sum() else key.astype("string")
        else:
            raise SemclustError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
        order = np.argsort(key.to_numpy(na_value=np.nan) if key.dtype != "string" else key.fillna("").to_numpy(),
                           kind="stable")
        if descending:
            order = order[::-1]
        return rows.iloc[order]

    def filter_mask(self, rows: pd.DataFrame, column: str, value: str | None) -> np.ndarray:
        if column not in self.input_columns():
            raise SemclustError(f"cannot filter by {column!r}; columns: {', '.join(self.input_columns())}")
        return (rows[column].astype("string").fillna("") == (value or "")).to_numpy()

    def column_values(self, column: str, limit: int = 200) -> list[str]:
        """The most frequent values of an input column, for the filter menus."""
        if column not in self.input_columns():
            return []
        counts = self.table[column].astype("string").value_counts()
        return [str(v) for v in counts.index[:limit]]

    def item(self, item_id: str) -> pd.Series:
        try:
            return self.table.loc[item_id]
        except KeyError:
            raise SemclustError(f"no item {item_id!r} in this run") from None

    def cluster_title(self, value) -> str:
        if pd.isna(value):
            return "not clustered"
        return self.cluster(int(value)).title

    def header(self) -> dict:
        """What the run header counts: every input item, and where each went."""
        n_items = len(self.table)
        outliers = int((self.labels == OUTLIER).sum())
        return {"n_items": n_items, "n_clustered": len(self.labels) - outliers, "n_outliers": outliers,
                "n_clusters": sum(1 for c in self.clusters if c.cluster != OUTLIER),
                "n_not_clustered": n_items - len(self.labels), "failure_kinds": self.failure_kinds(),
                "n_duplicates": int((self.failures["kind"] == "duplicate").sum())}

    @functools.cached_property
    def failures(self) -> pd.DataFrame:
        """Items the run could not cluster, with the reason, plus exact duplicates of earlier items."""
        missing = self.table[self.table["cluster"].isna()]
        kinds = missing["note"].fillna("").astype(str).map(failure_kind)
        out = pd.DataFrame({"id": missing["id"], "kind": kinds, "reason": missing["note"].fillna(""),
                            "image": missing["image"]})
        sha = self.table["sha256"]
        dup = self.table[sha.notna() & sha.duplicated(keep="first")]
        first = self.table[sha.notna()].drop_duplicates("sha256").set_index("sha256")["id"]
        duplicates = pd.DataFrame({"id": dup["id"], "kind": "duplicate",
                                   "reason": ["same file as " + str(first[s]) + " (described once)"
                                              for s in dup["sha256"]],
                                   "image": dup["image"]})
        return pd.concat([out, duplicates], ignore_index=True)

    def failure_kinds(self) -> dict[str, int]:
        """Why items were not clustered, by kind (exact duplicates are clustered: not counted)."""
        kinds = self.failures["kind"]
        return kinds[kinds != "duplicate"].value_counts().to_dict()
