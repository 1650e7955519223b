"""The interactive 2-D map shared by the report and the explore app: plotly.js, served locally.

plotly's Python package ships ``plotly.min.js``; pages inline it (the report) or serve it
from the app (``/static/plotly.min.js``), never from a CDN, so the map works on a laptop
on a train or in a data enclave. Points are drawn with WebGL (``scattergl``), one trace
per cluster, which stays responsive at 100,000 points. The page-side code is
``templates/map.js``.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
from markupsafe import Markup

OUTLIER = -1


@functools.cache
def plotly_js_path() -> Path | None:
    """``plotly.min.js`` from the installed plotly package, or None when plotly is missing."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.exists() else None


@functools.cache
def map_js() -> str:
    """The page-side drawing code (``semclustMap(element, payload, hooks)``)."""
    return files("semclust").joinpath("templates/map.js").read_text(encoding="utf-8")


def label_anchor(points: np.ndarray, sample: int = 400) -> tuple[float, float]:
    """Where a cluster's label goes: its densest member point, not its median.

    On a map where a cluster lies in fragments the median can fall between them, on another
    cluster's points; the member with the most fellow members close by is always on the
    cluster's main body. Closeness is the 10th percentile of the pairwise distances of up to
    ``sample`` members (a seeded draw, so the label does not move between renders).
    """
    points = np.asarray(points, dtype=float)
    if len(points) > sample:
        points = points[np.random.default_rng(len(points)).choice(len(points), sample, replace=False)]
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)
    radius = np.quantile(distances, 0.1)
    x, y = points[int(np.argmax((distances <= radius).sum(axis=1)))]
    return float(x), float(y)


def map_payload(coords: np.ndarray, labels: np.ndarray, ids: list[str],
                clusters: list[tuple[int, str, str]]) -> dict:
    """What ``semclustMap`` draws: positions, cluster per point, ids, and per cluster a title,
    a colour and the point where its label goes (``label_anchor``). ``clusters`` is ``(cluster, title, colour)``."""
    coords = np.asarray(coords, dtype=float)
    labels = np.asarray(labels, dtype=int)
    out = []
    for cluster, title, colour in clusters:
        rows = labels == cluster
        if not rows.any():
            continue
        x, y = label_anchor(coords[rows]) if cluster != OUTLIER else (None, None)
        out.append({"cluster": int(cluster), "title": title, "colour": colour,
                    "x": None if x is None else round(float(x), 4),
                    "y": None if y is None else round(float(y), 4)})
    return {"x": np.round(coords[:, 0], 4).tolist(), "y": np.round(coords[:, 1], 4).tolist(),
            "c": labels.tolist(), "id": [str(i) for i in ids], "clusters": out}


def script_json(value) -> Markup:
    """JSON safe to place inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
