"""The report's metrics block in words: a label per known metric and numbers formatted to read.

``n_clustered`` counts every item given to the clusterer, outliers included, while the report's
header counts the items *in* clusters; the block shows the split (``20 (14 in clusters, 6
outliers)``), so its figures and the header's agree. Unknown metrics (a plugin's, a grid's) keep
their key and are formatted the same way.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

#: Known metric keys -> label.
LABELS: dict[str, str] = {
    "n_items": "Input items",
    "n_clustered": "Items given to the clusterer",
    "n_clusters": "Clusters",
    "outlier_share": "Outliers",
    "n_fitted": "Items the clusterer was fitted on",
    "n_assigned": "Items assigned to the fitted model afterwards",
    "silhouette": "Silhouette",
    "fit_sample_ami_vs_full_fit": "AMI of the sample fit against a full fit",
}


def format_number(value, share: bool = False) -> str:
    """``9253`` -> ``9,253``; a share ``0.04993`` -> ``5.0%``; a real to 3 significant digits,
    or a whole number with separators from 1,000 on."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if share:
            return f"{100 * value:.1f}%"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def metric_rows(metrics: Mapping, prefix: str = "") -> list[tuple[str, str]]:
    """``(label, value)`` rows, nested mappings flattened as ``label: key``."""
    n = metrics.get("n_clustered")
    share = metrics.get("outlier_share")
    outliers = None
    if isinstance(n, numbers.Integral) and isinstance(share, numbers.Real) and not math.isnan(share):
        outliers = round(share * int(n))
    rows = []
    for key, value in metrics.items():
        label = prefix + LABELS.get(key, key)
        if isinstance(value, Mapping):
            rows.extend(metric_rows(value, f"{label}: "))
        elif key == "n_clustered" and outliers is not None:
            rows.append((label, f"{format_number(value)} ({int(n) - outliers:,} in clusters, {outliers:,} outliers)"))
        elif key == "outlier_share" and outliers is not None:
            rows.append((label, f"{format_number(value, share=True)} of {int(n):,} ({outliers:,})"))
        else:
            rows.append((label, format_number(value, share=key.endswith("_share"))))
    return rows
