"""A run's clusters as a REFI-QDA codebook (``.qdc``) or project (``.qdpx``) for ATLAS.ti, NVivo, ...

One code per cluster: its stored name (``semclust name`` / ``refine --name``) or else its top
keywords; its description holds the keywords, the stored summary and the ids of the items
nearest the centroid (the exemplars). A hierarchy nests the codes: a ``parent`` column in
``clusters.csv`` or a ``hierarchy.csv`` beside it (see :func:`run_codes`). Every GUID is a
uuid5 of the run id and the cluster (or node, or item), so exporting the same run again gives
the same GUIDs and a QDA tool can recognise its codes instead of duplicating them.
The outliers are no code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image

from semclust.core.errors import SemclustError
from semclust.core.refi_qda import QdaCode, QdaPicture, stable_guid, write_codebook, write_project
from semclust.exploration.refine import cluster_names
from semclust.study.runs import Run

FORMATS = ("qdc", "qdpx")
#: Keywords put in a code's name when the cluster has no stored name.
NAME_KEYWORDS = 3
#: Exemplar ids listed in a code's description.
EXEMPLARS = 5
_HIERARCHY_COLUMNS = {"level", "node", "parent"}


def export_qda(run: Run, path: str | Path, fmt: str, *, per_cluster: int = 0) -> Path:
    """Write ``run`` as ``fmt`` (``qdc`` or ``qdpx``) to ``path``; ``per_cluster`` > 0 caps the
    pictures of a ``.qdpx`` at the items nearest each cluster's centroid (0 = every item)."""
    if fmt not in FORMATS:
        raise SemclustError(f"unknown REFI-QDA format {fmt!r}; choose qdc or qdpx")
    codes, by_cluster = run_codes(run)
    if fmt == "qdc":
        return write_codebook(codes, path)
    with tempfile.TemporaryDirectory(prefix="semclust-qdpx-") as scratch:
        pictures = _pictures(run, by_cluster, per_cluster, Path(scratch))
        return write_project(codes, pictures, path, name=f"semclust run {run.id}",
                             description=f"Clusters of semclust run {run.id}, one code per cluster.")


def run_codes(run: Run) -> tuple[list[QdaCode], dict[int, QdaCode]]:
    """The run's codes (nested when it has a hierarchy) and the code of every cluster."""
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no keywords yet: run `semclust label` first")
    run_id = run.id
    names = cluster_names(run)
    exemplars = _exemplars(run)
    by_cluster = {}
    for row in run.clusters.to_dict("records"):
        cluster = int(row["cluster"])
        if cluster < 0:
            continue
        by_cluster[cluster] = QdaCode(
            name=names.get(cluster, {}).get("name") or _keyword_name(row["keywords"], cluster),
            description=_description(row["keywords"], names.get(cluster, {}).get("summary", ""),
                                     exemplars.get(cluster, [])),
            guid=stable_guid("run", run_id, "cluster", cluster))
    if not by_cluster:
        raise SemclustError(f"run {run.id} has no clusters, only outliers: nothing to export")
    hierarchy = run.folder / "hierarchy.csv"
    if hierarchy.exists():
        return _from_hierarchy(hierarchy, by_cluster, run_id), by_cluster
    if "parent" in run.clusters.columns:
        return _from_parent_column(run.clusters, by_cluster, run_id), by_cluster
    return [by_cluster[c] for c in sorted(by_cluster)], by_cluster


def _keyword_name(keywords, cluster: int) -> str:
    terms = [term for term, _ in keywords[:NAME_KEYWORDS]]
    return ", ".join(terms) if terms else f"cluster {cluster}"


def _description(keywords, summary: str, exemplars: list[str]) -> str:
    lines = []
    if keywords:
        lines.append("Keywords: " + ", ".join(term for term, _ in keywords))
    if summary:
        lines.append(summary)
    if exemplars:
        lines.append("Exemplars: " + ", ".join(exemplars))
    return "\n".join(lines)


def _exemplars(run: Run) -> dict[int, list[str]]:
    rows = _nearest_first(run)
    return {int(c): group["id"].astype(str).head(EXEMPLARS).tolist() for c, group in rows.groupby("cluster")}


def _nearest_first(run: Run) -> pd.DataFrame:
    rows = run.clustered()
    rows = rows[rows["cluster"].astype(int) >= 0]
    order = ["cluster", "centroid_distance"] if "centroid_distance" in rows.columns else ["cluster"]
    return rows.sort_values(order, kind="stable")


def _from_parent_column(clusters: pd.DataFrame, by_cluster: dict[int, QdaCode], run_id: str) -> list[QdaCode]:
    """``parent`` names another cluster (nested under its code) or a group (a code of its own)."""
    top: list[QdaCode] = []
    groups: dict[str, QdaCode] = {}
    for row in clusters.sort_values("cluster").to_dict("records"):
        cluster = int(row["cluster"])
        if cluster not in by_cluster:
            continue
        parent = str(row["parent"]).strip()
        if parent in ("", "nan", "-1"):
            top.append(by_cluster[cluster])
        elif parent.lstrip("-").isdigit() and int(parent) in by_cluster and int(parent) != cluster:
            by_cluster[int(parent)].children.append(by_cluster[cluster])
        else:
            if parent not in groups:
                groups[parent] = QdaCode(name=parent, guid=stable_guid("run", run_id, "group", parent))
                top.append(groups[parent])
            groups[parent].children.append(by_cluster[cluster])
    return top


def _from_hierarchy(path: Path, by_cluster: dict[int, QdaCode], run_id: str) -> list[QdaCode]:
    """Codes from ``hierarchy.csv`` (level, node, parent, size, keywords, name).

    The level with the most nodes is the run's clusters (``node`` = cluster id); a node's
    ``parent`` is a node of the next level with fewer nodes; an empty parent is a top code.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = _HIERARCHY_COLUMNS - set(table.columns)
    if missing:
        raise SemclustError(f"{path}: missing column(s) {sorted(missing)}; it has {list(table.columns)}")
    levels = table.groupby("level").size().sort_values(ascending=False, kind="stable").index.tolist()
    up = dict(zip(levels, levels[1:], strict=False))
    codes: dict[tuple[str, str], QdaCode] = {}
    for row in table.to_dict("records"):
        key = (row["level"], row["node"])
        if row["level"] == levels[0]:
            if not row["node"].lstrip("-").isdigit() or int(row["node"]) not in by_cluster:
                continue  # the outliers, or a cluster the run no longer has
            codes[key] = by_cluster[int(row["node"])]
        else:
            keywords = row.get("keywords", "").strip()
            name = row.get("name", "").strip() or keywords or f"level {row['level']} node {row['node']}"
            codes[key] = QdaCode(name=name, description=f"Keywords: {keywords}" if keywords else "",
                                 guid=stable_guid("run", run_id, "node", row["level"], row["node"]))
    top: list[QdaCode] = []
    for (level, node), code in codes.items():
        parent = table.loc[(table["level"] == level) & (table["node"] == node), "parent"].iloc[0].strip()
        above = codes.get((up.get(level), parent)) if parent else None
        if parent and above is None:
            raise SemclustError(f"{path}: node {node} of level {level} has parent {parent}, "
                                f"which is no node of level {up.get(level)}")
        (above.children if above is not None else top).append(code)
    return top


def _pictures(run: Run, by_cluster: dict[int, QdaCode], per_cluster: int, scratch: Path) -> list[QdaPicture]:
    """Every clustered item as a picture coded by its cluster; other formats become PNG copies."""
    rows = _nearest_first(run)
    if per_cluster > 0:
        rows = rows.groupby("cluster", sort=False).head(per_cluster)
    pictures = []
    for row in rows.itertuples(index=False):
        source = Path(str(row.image))
        guid = stable_guid("run", run.id, "item", row.id)
        try:
            with Image.open(source) as image:
                width, height = image.size
                extension = {"JPEG": ".jpg", "PNG": ".png"}.get(image.format or "")
                if extension is None:
                    extension, source = ".png", scratch / f"{guid}.png"
                    image.convert("RGBA").save(source)
        except OSError as exc:
            raise SemclustError(f"item {row.id}: cannot read its image {source}: {exc}") from exc
        pictures.append(QdaPicture(guid=guid, name=str(row.id), file=source, extension=extension,
                                   width=width, height=height, code_guid=by_cluster[int(row.cluster)].guid))
    return pictures
