"""The run's self-contained HTML report: what a researcher opens to read the clusters.

One page, no outside resources: per cluster its keywords (the paper's Table 1), size
and a grid of sample thumbnails with the descriptions on hover; a 2-D map; the
configuration and metrics. Thumbnails are sampled per cluster, so the page stays a few
megabytes however many items the run has. Everything the models or users wrote is
escaped by Jinja2's autoescape: descriptions and post text are untrusted.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import math
import numbers
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from semclust.core.errors import SemclustError
from semclust.core.imageio import ImageReadError, open_image, thumbnail_data_url
from semclust.stages.keywords_format import KeywordFormatError, parse_keywords
from semclust.stages.report_metrics import metric_rows

log = logging.getLogger(__name__)

#: The cluster label HDBSCAN gives to noise points.
OUTLIER = -1
#: Hover text longer than this is cut, so one runaway description cannot bloat the page.
MAX_HOVER_CHARS = 2000
#: Threads decoding images (Pillow releases the GIL while decoding).
_THUMB_WORKERS = 4
_OUTLIER_COLOUR = "#9e9e9e"
_TAB10_GREY = 7  # position of grey in the tab10 order of hues
_REQUIRED_ASSIGNMENT_COLUMNS = ("id", "image", "cluster")
_REQUIRED_CLUSTER_COLUMNS = ("cluster", "size", "keywords")


class ReportError(SemclustError, ValueError):
    """The run's data cannot be turned into a report; the message names the bad value."""


@dataclass(frozen=True)
class Thumbnail:
    """One sampled item as the page shows it."""

    item_id: str
    hover: str
    src: str | None  # inline data URL; None when the image could not be read
    problem: str  # why there is no image, shown in the placeholder
    exemplar: bool


@dataclass(frozen=True)
class ClusterSection:
    """Everything the template needs to draw one cluster."""

    cluster: int
    size: int
    share: float
    colour: str
    keywords: list[tuple[str, float]]
    thumbnails: list[Thumbnail]
    label: str = ""  # a name a person or a namer gave the cluster
    summary: str = ""
    gallery: str | None = None  # relative link to the page with every member

    @property
    def is_outlier(self) -> bool:
        return self.cluster == OUTLIER

    @property
    def name(self) -> str:
        if self.is_outlier:
            return "Outliers"
        return f"Cluster {self.cluster}: {self.label}" if self.label else f"Cluster {self.cluster}"

    @property
    def anchor(self) -> str:
        return "outliers" if self.is_outlier else f"cluster-{self.cluster}"


def write_report(
    out_path: str | os.PathLike,
    assignments: pd.DataFrame,
    clusters: pd.DataFrame,
    *,
    title: str,
    config: Mapping,
    metrics: Mapping | None = None,
    coords: np.ndarray | None = None,
    samples_per_cluster: int = 12,
    seed: int = 0,
    max_thumb_side: int = 160,
    not_clustered: pd.DataFrame | None = None,
    galleries: bool = True,
    codes: Mapping | None = None,
    hierarchy: pd.DataFrame | None = None,
) -> Path:
    """Write the run's report as one self-contained HTML file and return its path.

    Parameters
    ----------
    out_path : path-like
        Where to write the page (parent folders are created).
    assignments : DataFrame
        One row per item with ``id``, ``image``, ``cluster`` (-1 = outlier) and optionally
        ``description``, ``text`` (post text) and a boolean ``exemplar`` (shown first).
    clusters : DataFrame
        ``cluster``, ``size`` and ``keywords`` (``[(term, score), ...]`` or the
        ``"term:score, ..."`` text of clusters.csv).
    title : str
        Page heading.
    config, metrics : mapping
        Shown as tables; nested mappings are flattened to dotted keys.
    coords : array of shape (n, 2), optional
        A 2-D map of the items, rows aligned with ``assignments``.
    samples_per_cluster : int
        Thumbnails per cluster; a cluster shows ``min(size, samples_per_cluster)``.
    seed : int
        Seeds the per-cluster sample, so the same run gives the same page.
    max_thumb_side : int
        Longest side of a thumbnail in pixels.
    not_clustered : DataFrame, optional
        Items the run could not cluster (``id``, ``note`` with the reason): counted in the
        header and listed in their own section.
    galleries : bool
        Also write ``galleries/cluster-N.html`` beside the report, one page per cluster
        with every member (images linked, not inlined), and link each section to it.
        ``clusters`` may carry ``name`` and ``summary`` columns; they head the sections.
    codes : mapping, optional
        A codebook-seeded run's ``{"codes": [...], "new_themes": [...]}`` (built by
        ``semclust.study.seeded.codes_report``): a section per code with its size, threshold and
        borderline items, and the new themes beside them.
    hierarchy : DataFrame, optional
        The run's ``hierarchy.csv`` (``level, node, parent, size, keywords, name``): shown
        as a tree of themes above the clusters.

    Raises
    ------
    ReportError
        Naming the missing column, the bad row or the inconsistent cluster.
    """
    _check_options(samples_per_cluster, seed, max_thumb_side)
    labels = _cluster_labels(assignments)
    sizes = _cluster_sizes(labels, clusters)
    keywords = _keywords_by_cluster(clusters)
    xy = None if coords is None else _checked_coords(coords, len(labels))
    context = {
        "title": title,
        "codes": codes,
        "thumb_side": max_thumb_side,
        "n_items": len(labels),
        "n_outliers": sizes.get(OUTLIER, 0),
        "config_rows": _table_rows(_checked_mapping(config, "config")),
        "metrics_rows": None
        if metrics is None
        else metric_rows(_checked_mapping(metrics, "metrics")),
    }
    order = sorted(sizes, key=lambda c: (c == OUTLIER, -sizes[c], c))
    colours = cluster_colours(order)
    groups = pd.Series(labels).groupby(labels).indices
    exemplar = _exemplar_mask(assignments)
    picks = {
        c: _pick_rows(groups.get(c, np.empty(0, int)), exemplar, c, samples_per_cluster, seed)
        for c in order
    }
    thumbs = _thumbnails(assignments, picks, exemplar, max_thumb_side)
    share = {c: sizes[c] / len(labels) if len(labels) else 0.0 for c in order}
    names = _names_by_cluster(clusters)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    links = _write_galleries(out.parent, assignments, groups, names, order) if galleries else {}
    context["sections"] = [
        ClusterSection(c, sizes[c], share[c], colours[c], keywords.get(c, []), thumbs[c],
                       names.get(c, ("", ""))[0], names.get(c, ("", ""))[1], links.get(c))
        for c in order
    ]
    context.update(_failures_context(not_clustered, len(labels)))
    context["themes"] = theme_tree(hierarchy) if hierarchy is not None else []
    context["outputs"] = _output_links(out)
    context["analysis"] = analysis_context(out.parent / ANALYSIS_FOLDER)
    context["map_url"], context["map_payload"], context["map_note"] = None, None, ""
    if xy is not None:
        context.update(_map_context(xy, labels, assignments, context["sections"], groups, colours))
    html = template_environment().get_template("report.html.j2").render(**context)
    out.write_text(html, encoding="utf-8")
    n_outliers = int(sizes.get(OUTLIER, 0))
    log.info("wrote report %s (%.1f kB, %d clusters and %d outliers)", out, len(html) / 1000,
             len(order) - (n_outliers > 0), n_outliers)
    return out


#: Past this many points the report shows the static map: the interactive one inlines
#: plotly.js (4.8 MB) plus about 40 bytes per point, and the page is meant for e-mail.
INTERACTIVE_MAP_LIMIT = 20_000
#: The report lists this many not-clustered items (the rest are in assignments.csv).
FAILURES_LISTED = 1000
_OUTPUT_FILES = ("assignments.csv", "assignments.parquet", "clusters.csv", "hierarchy.csv", "config.json",
                 "metrics.json", "coords.npy", "reduced.npy")


def theme_tree(hierarchy: pd.DataFrame) -> list[dict]:
    """The top level's nodes, each ``{level, node, name, size, keywords, children}``, nested down to
    the clusters (level 0), largest first; for a nested list in a page."""
    nodes, parents = {}, {}
    for row in hierarchy.sort_values(["level", "size", "node"], ascending=[True, False, True]).itertuples():
        key = (int(row.level), int(row.node))
        nodes[key] = {"level": key[0], "node": key[1], "name": _text(row.name), "size": int(row.size),
                      "keywords": _as_keywords(row.keywords, key[1]), "children": []}
        parents[key] = None if pd.isna(row.parent) or str(row.parent) == "" else (key[0] + 1, int(row.parent))
    top = []
    for key, entry in nodes.items():
        (nodes[parents[key]]["children"] if parents[key] in nodes else top).append(entry)
    return top


def _names_by_cluster(clusters: pd.DataFrame) -> dict[int, tuple[str, str]]:
    """``{cluster: (name, summary)}`` from optional ``name``/``summary`` columns."""
    if "name" not in clusters.columns:
        return {}
    ids = _integer_column(clusters, "cluster", "clusters", OUTLIER).tolist()
    summaries = clusters["summary"] if "summary" in clusters.columns else [""] * len(clusters)
    return {c: (_text(n), _text(m)) for c, n, m in zip(ids, clusters["name"], summaries, strict=True)}


def _failures_context(not_clustered: pd.DataFrame | None, n_clustered: int) -> dict:
    if not_clustered is None or not len(not_clustered):
        return {"n_input": n_clustered, "failures": [], "failure_kinds": {}, "n_failures": 0}
    notes = not_clustered["note"].map(_text) if "note" in not_clustered.columns else pd.Series("", index=not_clustered.index)
    kinds = notes.map(failure_kind)
    rows = [(_text(i), k, n) for i, k, n in zip(not_clustered["id"], kinds, notes, strict=True)]
    return {"n_input": n_clustered + len(rows), "failures": rows[:FAILURES_LISTED],
            "failure_kinds": kinds.value_counts().to_dict(), "n_failures": len(rows)}


def failure_kind(note: str) -> str:
    """A short kind for a not-clustered note: refused, failed, truncated, unreadable, ..."""
    text = note.lower()
    for kind, marks in (("unreadable", ("unreadable", "corrupt", "empty file", "not an image")),
                        ("refused", ("refus",)), ("truncated", ("truncat", "length")),
                        ("failed", ("failed", "error", "gave up")),
                        ("skipped", ("skip", "not embedded")), ("no description", ("no description",))):
        if any(m in text for m in marks):
            return kind
    return "other" if text else "no description"


def _output_links(out: Path) -> list[tuple[str, str]]:
    """Every output file of the run folder, linked relative to the report."""
    found = [(name, name) for name in _OUTPUT_FILES if (out.parent / name).exists()]
    if (out.parent / "galleries").is_dir():
        found.append(("galleries/ (one page per cluster)", "galleries/index.html"))
    return found


#: Written by ``semclust analyze`` into the run folder; the report shows it when present.
ANALYSIS_FOLDER = "analysis"
_ANALYSIS_TABLE_ROWS = 30


def analysis_context(folder: Path) -> dict | None:
    """The analysis' plots (PNG inlined) and group differences, read from its files only."""
    manifest_path = folder / "analysis.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    plots = []
    for kind, names in manifest.get("files", {}).get("plots", {}).items():
        png = folder / next(n for n in names if n.endswith(".png"))
        if png.exists():
            plots.append((kind, "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()))
    table = None
    if (folder / "differences.csv").exists():
        diffs = pd.read_csv(folder / "differences.csv", keep_default_na=False).sort_values("p_adjusted")
        table = [[_format_value(v) for v in row]
                 for row in diffs[["cluster", "name", "group", "reference", "share", "share_reference",
                                   "difference", "p_adjusted"]].head(_ANALYSIS_TABLE_ROWS).itertuples(index=False)]
    return {"plots": plots, "differences": table, "notes": [str(n) for n in manifest.get("notes", [])],
            "settings": _table_rows(manifest.get("settings", {}))}


def _write_galleries(folder: Path, assignments: pd.DataFrame, groups: dict, names: dict, order: list[int]) -> dict[int, str]:
    """One page per cluster with every member, nearest the centroid first; images are linked."""
    target = folder / "galleries"
    target.mkdir(parents=True, exist_ok=True)
    template = template_environment().get_template("report_gallery.html.j2")
    distance = (pd.to_numeric(assignments["centroid_distance"], errors="coerce").to_numpy()
                if "centroid_distance" in assignments.columns else np.zeros(len(assignments)))
    exemplar = _exemplar_mask(assignments)
    descriptions = _optional_column(assignments, "description")
    ids = [_text(i) for i in assignments["id"]]
    here = target.resolve()
    sources = {p: _relative_src(p, here) for p in dict.fromkeys(assignments["image"].tolist())}
    images = assignments["image"].tolist()
    links, pages = {}, []
    for cluster in order:
        rows = groups.get(cluster, np.empty(0, int))
        rows = rows[np.argsort(np.nan_to_num(distance[rows], nan=np.inf), kind="stable")]
        title = "Outliers" if cluster == OUTLIER else (
            f"Cluster {cluster}: {names[cluster][0]}" if names.get(cluster, ("", ""))[0] else f"Cluster {cluster}")
        items = [(ids[r], sources[images[r]], _hover(descriptions[r], None), bool(exemplar[r])) for r in rows]
        name = "outliers.html" if cluster == OUTLIER else f"cluster-{cluster}.html"
        (target / name).write_text(template.render(title=title, items=items, summary=names.get(cluster, ("", ""))[1]),
                                   encoding="utf-8")
        links[cluster] = f"galleries/{name}"
        pages.append((title, name, len(rows)))
    (target / "index.html").write_text(template_environment().get_template("report_gallery.html.j2").render(
        title="Galleries", items=[], summary="", pages=pages), encoding="utf-8")
    return links


def _relative_src(path, folder: Path) -> str | None:
    """The image's path relative to the gallery page, as a URL path (None without a path)."""
    from urllib.parse import quote

    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        return None
    try:
        relative = os.path.relpath(Path(path).resolve(), folder)
    except ValueError:  # another drive on Windows
        return Path(path).resolve().as_uri()
    return quote(Path(relative).as_posix())


def _map_context(xy: np.ndarray, labels: np.ndarray, assignments: pd.DataFrame, sections, groups, colours) -> dict:
    """The interactive map (plotly.js inlined) up to :data:`INTERACTIVE_MAP_LIMIT` points, else the PNG."""
    from semclust.stages.interactive_map import map_js, map_payload, plotly_js_path, script_json

    script = plotly_js_path()
    if script is not None and "</script" in script.read_text(encoding="utf-8").lower():
        script = None  # could not be inlined safely
    if len(xy) <= INTERACTIVE_MAP_LIMIT and script is not None:
        payload = map_payload(xy, labels, assignments["id"].astype(str).tolist(),
                              [(s.cluster, s.name, s.colour) for s in sections])
        return {"map_payload": script_json(payload), "plotly_js": script.read_text(encoding="utf-8"),
                "map_js": map_js(), "map_note": ""}
    note = (f"The static map: {len(xy):,} points are more than the interactive map's limit of "
            f"{INTERACTIVE_MAP_LIMIT:,} in this page (semclust explore shows every point interactively)."
            if script is not None else "The static map: install plotly (pip install 'semclust[explore]') for an interactive one.")
    return {"map_url": _map_data_url(xy, groups, colours), "map_note": note}


@functools.cache
def template_environment() -> jinja2.Environment:
    """The package's Jinja2 templates, autoescaped: pages show untrusted model output."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("semclust", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )



def _check_options(samples_per_cluster: int, seed: int, max_thumb_side: int) -> None:
    for name, value, low in (
        ("samples_per_cluster", samples_per_cluster, 0),
        ("seed", seed, 0),
        ("max_thumb_side", max_thumb_side, 1),
    ):
        if not isinstance(value, numbers.Integral) or value < low:
            raise ReportError(f"{name} must be an integer >= {low}, got {value!r}")


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReportError(f"{what} lacks the column(s) {missing}; it has {list(frame.columns)}")


def _integer_column(frame: pd.DataFrame, column: str, what: str, low: int) -> np.ndarray:
    """The column as int64, or an error naming the first row that is not an integer >= low."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < low)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ReportError(
            f"{what} row {frame.index[row]!r}: {column} must be an integer >= {low}, "
            f"got {frame[column].iloc[row]!r}"
        )
    return values.astype(np.int64)


def _cluster_labels(assignments: pd.DataFrame) -> np.ndarray:
    _require_columns(assignments, _REQUIRED_ASSIGNMENT_COLUMNS, "assignments")
    return _integer_column(assignments, "cluster", "assignments", OUTLIER)


def _cluster_sizes(labels: np.ndarray, clusters: pd.DataFrame) -> dict[int, int]:
    """Sizes counted from the assignments, checked against the clusters table."""
    _require_columns(clusters, _REQUIRED_CLUSTER_COLUMNS, "clusters")
    ids = _integer_column(clusters, "cluster", "clusters", OUTLIER)
    stated = _integer_column(clusters, "size", "clusters", 0)
    counted = {int(c): int(n) for c, n in zip(*np.unique(labels, return_counts=True), strict=True)}
    seen: set[int] = set()
    for cluster, size in zip(ids.tolist(), stated.tolist(), strict=True):
        if cluster in seen:
            raise ReportError(f"clusters table lists cluster {cluster} twice")
        seen.add(cluster)
        if size != counted.get(cluster, 0):
            raise ReportError(
                f"cluster {cluster}: the clusters table says size {size} but assignments "
                f"has {counted.get(cluster, 0)} rows in it"
            )
    return {c: counted.get(c, 0) for c in seen | set(counted)}


def _keywords_by_cluster(clusters: pd.DataFrame) -> dict[int, list[tuple[str, float]]]:
    ids = _integer_column(clusters, "cluster", "clusters", OUTLIER).tolist()
    return {c: _as_keywords(value, c) for c, value in zip(ids, clusters["keywords"], strict=True)}


def _as_keywords(value, cluster: int) -> list[tuple[str, float]]:
    """Accept the in-memory list of pairs or the clusters.csv text form."""
    try:
        if isinstance(value, str) or value is None:
            return parse_keywords(value)
        if isinstance(value, float) and math.isnan(value):
            return []
        return [(str(term), float(score)) for term, score in value]
    except (KeywordFormatError, TypeError, ValueError) as exc:
        raise ReportError(f"cluster {cluster}: unreadable keywords {value!r} ({exc})") from exc


def _exemplar_mask(assignments: pd.DataFrame) -> np.ndarray:
    if "exemplar" not in assignments.columns:
        return np.zeros(len(assignments), dtype=bool)
    try:
        return assignments["exemplar"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    except (TypeError, ValueError) as exc:
        raise ReportError(f"assignments column 'exemplar' must be boolean ({exc})") from exc


def _pick_rows(
    positions: np.ndarray, exemplar: np.ndarray, cluster: int, k: int, seed: int
) -> np.ndarray:
    """Up to half exemplars, first, then a seeded random sample of the rest, k in all.

    Exemplars (the 10% nearest the centroid) are themselves drawn at random, seeded, as
    Zhang & Leung (§4.3) sample their examples, not the first ones in input order. Half the
    places go to the rest of the cluster, so a reader sees the typical and the ordinary member
    side by side and the exemplar frame tells them apart (in a large cluster the nearest tenth
    alone would fill every place). Each cluster has its own generator, so its sample does not
    change when other clusters do.
    """
    rng = np.random.default_rng([seed, cluster - OUTLIER])
    pool = positions[exemplar[positions]]
    rest = positions[~exemplar[positions]]
    n_first = min(len(pool), max(k - len(rest), -(-k // 2)))
    first = rng.choice(pool, size=n_first, replace=False)
    sampled = rng.choice(rest, size=min(k - len(first), len(rest)), replace=False)
    return np.concatenate([first, sampled]).astype(np.int64)


def _thumbnails(
    assignments: pd.DataFrame,
    picks: dict[int, np.ndarray],
    exemplar: np.ndarray,
    max_side: int,
) -> dict[int, list[Thumbnail]]:
    """Decode only the sampled images, in parallel, in a fixed order."""
    chosen = np.concatenate([np.empty(0, np.int64), *picks.values()])
    rows = assignments.iloc[chosen]
    load = functools.partial(_load_thumbnail, max_side=max_side)
    with ThreadPoolExecutor(max_workers=_THUMB_WORKERS) as pool:
        loaded = list(pool.map(load, rows["image"]))
    descriptions = _optional_column(rows, "description")
    texts = _optional_column(rows, "text")
    thumbs = [
        Thumbnail(str(item_id), _hover(d, t), src, problem, bool(ex))
        for item_id, d, t, (src, problem), ex in zip(
            rows["id"], descriptions, texts, loaded, exemplar[chosen], strict=True
        )
    ]
    out, start = {}, 0
    for cluster, positions in picks.items():
        out[cluster] = thumbs[start : start + len(positions)]
        start += len(positions)
    return out


def _optional_column(frame: pd.DataFrame, column: str) -> list:
    return frame[column].tolist() if column in frame.columns else [None] * len(frame)


def _load_thumbnail(path, max_side: int) -> tuple[str | None, str]:
    """``(data URL, "")``, or ``(None, reason)`` when the image cannot be shown."""
    if not isinstance(path, str | os.PathLike) or not str(path).strip():
        return None, "no image path"
    url = thumbnail_data_url(path, max_side=max_side)
    if url is not None:
        return url, ""
    return None, _read_problem(path)


def _read_problem(path) -> str:
    """thumbnail_data_url hides why it failed; open the file once more to learn the reason."""
    try:
        open_image(path)
    except ImageReadError as exc:
        return str(exc)
    return "unreadable image"


def _text(value) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None or pd.isna(value) else str(value).strip()


def _hover(description, text) -> str:
    parts = [_text(description) or "(no description)"]
    post = _text(text)
    if post:
        parts.append(f"Post text: {post}")
    hover = "\n\n".join(parts)
    return hover if len(hover) <= MAX_HOVER_CHARS else hover[: MAX_HOVER_CHARS - 1] + "…"


def cluster_colours(order: list[int]) -> dict[int, str]:
    """tab20's dark shades for the largest clusters, then its light ones, then repeat.

    tab20's greys are left out: grey marks the outliers.
    """
    tab20 = colormaps["tab20"].colors
    shades = tab20[0::2] + tab20[1::2]
    palette = [to_hex(c) for i, c in enumerate(shades) if i % 10 != _TAB10_GREY]
    ranked = [c for c in order if c != OUTLIER]
    colours = {c: palette[i % len(palette)] for i, c in enumerate(ranked)}
    colours[OUTLIER] = _OUTLIER_COLOUR
    return colours


def _checked_coords(coords, n_items: int) -> np.ndarray:
    try:
        array = np.asarray(coords, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ReportError(f"coords must be a numeric array of shape ({n_items}, 2): {exc}") from exc
    if array.shape != (n_items, 2):
        raise ReportError(
            f"coords must have shape ({n_items}, 2) to match assignments, got {array.shape}"
        )
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ReportError(f"coords row {row} is not finite: {array[row].tolist()}")
    return array


def _map_data_url(coords: np.ndarray, groups: dict, colours: dict[int, str]) -> str:
    """Scatter the items coloured by cluster, each labelled just above its densest point."""
    from semclust.stages.interactive_map import label_anchor

    fig = Figure(figsize=(8, 6), dpi=100)
    ax = fig.add_subplot()
    point = float(np.clip(4000 / max(len(coords), 1), 0.5, 20))
    outliers = groups.get(OUTLIER, np.empty(0, int))
    ax.scatter(*coords[outliers].T, s=point, c=_OUTLIER_COLOUR, linewidths=0)
    for cluster, rows in groups.items():
        if cluster == OUTLIER:
            continue
        ax.scatter(*coords[rows].T, s=point, c=colours[cluster], linewidths=0)
        ax.annotate(
            str(cluster),
            label_anchor(coords[rows]),
            xytext=(0, 14),
            textcoords="offset points",
            arrowprops={"arrowstyle": "-", "color": "#333", "lw": 0.6},
            ha="center",
            va="bottom",
            fontsize=9,
            weight="bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0},
        )
    ax.set_xticks([])
    ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _checked_mapping(value, name: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ReportError(f"{name} must be a mapping (dict), got {type(value).__name__}")
    return value


def _table_rows(values: Mapping, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested mappings into ``("stage.param", "value")`` rows."""
    rows = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_table_rows(value, f"{name}."))
        else:
            rows.append((name, _format_value(value)))
    return rows


def _format_value(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool | numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_format_value(v) for v in value)
    return str(value)
