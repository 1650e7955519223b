"""Clusters as inline image grids for notebooks: what ``run.show()`` and ``_repr_html_`` render.

Plain data in (a run's assignments and clusters tables), one self-contained HTML string out:
thumbnails are inlined as data URLs, so nothing is served. Every text from the data
(descriptions, keywords, names, ids) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from semclust.core.imageio import thumbnail_data_url

#: Thumbnail height in pixels.
TILE_SIDE = 96
HOVER_CHARS = 400


@dataclass
class Tile:
    id: str
    src: str | None
    hover: str
    text: str


@functools.cache
def _template():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("semclust", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True))
    return env.get_template("notebook_clusters.html.j2")


def keywords_text(keywords, n: int = 8) -> str:
    """``[(term, score), ...]`` (or the text form) as "term, term, ..."."""
    if isinstance(keywords, str):
        return ", ".join(part.rsplit(":", 1)[0] for part in keywords.split(", ") if part)[:300]
    return ", ".join(str(term) for term, _ in list(keywords or [])[:n])


def _tiles(members: pd.DataFrame, per_cluster: int) -> list[Tile]:
    """Exemplars (nearest the centroid) first, then the rest in input order."""
    if "centroid_distance" in members.columns:
        members = members.sort_values("centroid_distance", kind="stable", na_position="last")
    tiles = []
    for row in members.head(per_cluster).to_dict("records"):
        text = "" if pd.isna(row.get("description")) else str(row.get("description"))
        path = row.get("image")
        src = thumbnail_data_url(path, max_side=2 * TILE_SIDE) if isinstance(path, str) and path else None
        tiles.append(Tile(str(row["id"]), src, f"{row['id']}: {text}"[:HOVER_CHARS], text[:160]))
    return tiles


def cluster_html_parts(assignments: pd.DataFrame, clusters: pd.DataFrame | None, order: list[int],
                       per_cluster: int) -> list[dict]:
    rows = assignments[assignments["cluster"].notna()]
    labels = rows["cluster"].astype(int)
    info = clusters.set_index("cluster") if clusters is not None else pd.DataFrame()
    parts = []
    for cluster in order:
        members = rows[labels == cluster]
        meta = info.loc[cluster] if cluster in info.index else {}
        name = meta.get("name") if hasattr(meta, "get") else None
        parts.append({
            "title": "Outliers" if cluster == -1 else f"Cluster {cluster}",
            "size": len(members),
            "name": "" if name is None or pd.isna(name) else str(name),
            "keywords": keywords_text(meta.get("keywords")) if hasattr(meta, "get") else "",
            "tiles": _tiles(members, per_cluster),
            "more": max(0, len(members) - per_cluster),
        })
    return parts


def clusters_html(assignments: pd.DataFrame, clusters: pd.DataFrame | None, *, order: list[int] | None = None,
                  per_cluster: int = 8, max_clusters: int | None = None, heading: str = "",
                  summary: str = "") -> str:
    """HTML of the clusters in ``order`` (default: by size, outliers last), up to ``max_clusters``."""
    if order is None:
        labels = assignments["cluster"].dropna().astype(int)
        sizes = labels.value_counts()
        order = sorted(sizes.index, key=lambda c: (c < 0, -sizes[c], c))
    shown = order if max_clusters is None else order[:max_clusters]
    return _template().render(
        clusters=cluster_html_parts(assignments, clusters, shown, per_cluster), side=TILE_SIDE,
        heading=heading, summary=summary, hidden=len(order) - len(shown),
    )


def display_html(html: str, fallback: str) -> None:
    """Show ``html`` inline in a notebook; print ``fallback`` where IPython is not running."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        print(fallback)
        return
    if get_ipython() is None:
        print(fallback)
    else:
        display(HTML(html))


@dataclass
class ClusterView:
    """One cluster of a run: its members, keywords and name, shown as an image grid in a notebook."""

    number: int
    members: pd.DataFrame
    keywords: list
    name: str = ""
    run_id: str = ""

    @property
    def size(self) -> int:
        return len(self.members)

    def _html(self, per_cluster: int) -> str:
        table = pd.DataFrame({"cluster": [self.number], "keywords": [self.keywords], "name": [self.name or None]})
        return clusters_html(self.members, table, order=[self.number], per_cluster=per_cluster,
                             heading=f"run {self.run_id}" if self.run_id else "")

    def _repr_html_(self) -> str:
        return self._html(per_cluster=24)

    def __repr__(self) -> str:
        title = "outliers" if self.number == -1 else f"cluster {self.number}"
        return f"<{title} of run {self.run_id}: {self.size} items; {keywords_text(self.keywords)}>"

    def show(self, n: int = 48) -> None:
        """The first ``n`` members (nearest the centroid first) inline, with the keywords."""
        display_html(self._html(per_cluster=n), repr(self))
