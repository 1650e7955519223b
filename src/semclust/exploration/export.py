"""``semclust export``: a run's clusters as folders of images, a zip, contact sheets and tables.

Folder and file names are built from cluster numbers, names and item ids with anything
outside ``[A-Za-z0-9._-]`` replaced, so a name or id can never point outside the export
folder. Contact sheets show the items nearest the centroid first and stop at
:data:`SHEET_LIMIT` per cluster, so a sheet stays printable.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from semclust.core.errors import SemclustError
from semclust.core.imageio import ImageReadError
from semclust.exploration.refine import cluster_names
from semclust.exploration.thumbs import THUMB_SIDE, thumbnail
from semclust.stages.keywords_format import render_keywords
from semclust.stages.report import template_environment
from semclust.study.runs import Run

log = logging.getLogger(__name__)

FORMATS = ("folders", "zip", "contact-sheets", "tables")
SHEET_LIMIT = 300


def safe_name(text: str, limit: int = 60) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "item"
    return cleaned[:limit]


def cluster_folder_name(cluster: int, name: str) -> str:
    if cluster < 0:
        return "outliers"
    return f"cluster-{cluster:03d}" + (f"-{safe_name(name, 40)}" if name else "")


@dataclass(frozen=True)
class _Member:
    item_id: str
    path: str
    sha256: str | None
    target: str  # path inside a cluster folder


def _members(run: Run) -> dict[int, list[_Member]]:
    names = cluster_names(run)
    rows = run.clustered().sort_values(["cluster", "centroid_distance"], kind="stable")
    sha = dict(zip(rows["id"].astype(str), rows["sha256"], strict=True)) if "sha256" in rows.columns else {}
    out: dict[int, list[_Member]] = {}
    used: set[str] = set()
    for row in rows.itertuples(index=False):
        cluster = int(row.cluster)
        folder = cluster_folder_name(cluster, names.get(cluster, {}).get("name", ""))
        stem = safe_name(row.id)
        name = f"{folder}/{stem}{Path(str(row.image)).suffix.lower()}"
        while name in used:  # two ids that sanitise to the same name
            stem += "_"
            name = f"{folder}/{stem}{Path(str(row.image)).suffix.lower()}"
        used.add(name)
        out.setdefault(cluster, []).append(_Member(str(row.id), str(row.image), _hash(sha.get(str(row.id))), name))
    return out


def _hash(value) -> str | None:
    return value if isinstance(value, str) and value else None


def export_run(run: Run, out: str | Path, formats=FORMATS, *, copy: bool = False) -> dict[str, Path]:
    """Write the asked ``formats`` under ``out``; returns what was written, by format."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SemclustError(f"unknown export format(s) {unknown}; choose from {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    members = _members(run)
    written: dict[str, Path] = {}
    if "tables" in formats:
        written["tables"] = _tables(run, out)
    if "folders" in formats:
        written["folders"] = _folders(members, out / "clusters", copy)
    if "zip" in formats:
        written["zip"] = _zip(run, members, out / f"{run.id}.zip")
    if "contact-sheets" in formats:
        written["contact-sheets"] = _sheets(run, members, out / "contact-sheets")
    log.info("exported run %s to %s: %s", run.id, out, ", ".join(written))
    return written


def _tables(run: Run, out: Path) -> Path:
    run.assignments.to_csv(out / "assignments.csv", index=False)
    run.assignments.to_parquet(out / "assignments.parquet", index=False)
    clusters = _clusters_table(run)
    clusters.to_csv(out / "clusters.csv", index=False)
    return out / "assignments.csv"


def _clusters_table(run: Run) -> pd.DataFrame:
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no keywords yet: run `semclust label` first")
    table = run.clusters.copy()
    names = cluster_names(run)
    for column in ("name", "summary"):
        table[column] = [names.get(int(c), {}).get(column, "") for c in table["cluster"]]
    table["keywords"] = [render_keywords(k) for k in table["keywords"]]
    return table


def _folders(members: dict[int, list[_Member]], root: Path, copy: bool) -> Path:
    if root.exists():
        shutil.rmtree(root)
    for group in members.values():
        for member in group:
            target = root / member.target
            target.parent.mkdir(parents=True, exist_ok=True)
            source = Path(member.path).resolve()
            if copy:
                shutil.copy2(source, target)
            else:
                try:
                    os.symlink(source, target)
                except OSError:  # no symlink rights (Windows): fall back to a copy
                    shutil.copy2(source, target)
    return root


def _zip(run: Run, members: dict[int, list[_Member]], path: Path) -> Path:
    """Images are stored, not recompressed (they are JPEG/PNG already); tables go in too."""
    tmp = path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("assignments.csv", run.assignments.to_csv(index=False))
        archive.writestr("clusters.csv", _clusters_table(run).to_csv(index=False))
        for group in members.values():
            for member in group:
                try:
                    archive.write(member.path, member.target)
                except OSError as exc:
                    log.warning("not in the zip: %s (%s)", member.path, exc)
    os.replace(tmp, path)
    return path


def _sheets(run: Run, members: dict[int, list[_Member]], folder: Path) -> Path:
    from types import SimpleNamespace as NS

    folder.mkdir(parents=True, exist_ok=True)
    names = cluster_names(run)
    keywords = {int(r["cluster"]): r["keywords"] for r in run.clusters.to_dict("records")} if run.clusters is not None else {}
    study = run.folder.parent.parent
    template = template_environment().get_template("contact_sheet.html.j2")
    for cluster, group in members.items():
        name = names.get(cluster, {}).get("name", "")
        title = "Outliers" if cluster < 0 else f"Cluster {cluster}" + (f": {name}" if name else "")
        shown = group[:SHEET_LIMIT]
        cards = [NS(label=m.item_id, images=[NS(src=_data_url(study, m), caption="")], note="") for m in shown]
        intro = (f"Run {run.id}. {len(group):,} items; keywords: "
                 + ", ".join(t for t, _ in keywords.get(cluster, [])[:10])
                 + (f". Showing the {len(shown)} nearest the centroid." if len(shown) < len(group) else "."))
        html = template.render(title=title, intro=intro, legend=[], thumb_side=THUMB_SIDE // 2,
                               groups=[NS(heading="", cards=cards)])
        (folder / f"{cluster_folder_name(cluster, name)}.html").write_text(html, encoding="utf-8")
    return folder


def _data_url(study: Path, member: _Member) -> str | None:
    if member.sha256 is None:
        return None
    try:
        data = thumbnail(study, member.sha256, member.path)
    except (OSError, ImageReadError):
        return None
    return "data:image/webp;base64," + base64.b64encode(data).decode("ascii")
