"""The figures a paper can use, drawn with matplotlib's Agg backend (no display needed).

Each function takes a tidy table of :class:`~semclust.study.findings.result.AnalysisResult`
and returns a ``Figure``; :func:`save_figure` writes it as PNG (for pages) and SVG (for papers).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter  # noqa: E402

#: At most this many clusters get a line in the over-time plot (the largest).
MAX_LINES = 8


def _label(cluster, name) -> str:
    return f"{int(cluster)}: {name}" if name else f"cluster {int(cluster)}"


def prevalence_plot(prevalence: pd.DataFrame, noise: pd.DataFrame | None = None):
    """Share of each cluster per group (dots) with Wilson intervals; clustering-noise intervals beside."""
    groups = list(dict.fromkeys(prevalence["group"])) if "group" in prevalence else [None]
    clusters = list(dict.fromkeys(prevalence["cluster"]))
    names = dict(zip(prevalence["cluster"], prevalence["name"], strict=False))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(clusters) * max(1, len(groups) / 2) + 1.5))
    step = 0.8 / max(1, len(groups))
    for g, group in enumerate(groups):
        part = prevalence if group is None else prevalence[prevalence["group"] == group]
        part = part.set_index("cluster").reindex(clusters)
        y = np.arange(len(clusters)) + g * step
        ax.errorbar(part["share"], y, xerr=[part["share"] - part["ci_low"], part["ci_high"] - part["share"]],
                    fmt="o", capsize=3, label=f"{group} (Wilson)" if group is not None else "share (Wilson)")
        if noise is not None:
            ours = noise if group is None or "group" not in noise else noise[noise["group"] == group]
            ours = ours.set_index("cluster").reindex(clusters)
            ax.errorbar(ours["share"], y + step / 3, xerr=[ours["share"] - ours["clustering_low"],
                                                            ours["clustering_high"] - ours["share"]],
                        fmt="none", capsize=2, alpha=0.5, color=ax.lines[-1].get_color(),
                        linestyle=":", label=f"{group or 'share'} (+ clustering noise)")
    ax.set_yticks(np.arange(len(clusters)) + step * (len(groups) - 1) / 2,
                  [_label(c, names.get(c, "")) for c in clusters])
    ax.invert_yaxis()
    ax.set_xlabel("share of items (95% interval)")
    ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    return fig


def over_time_plot(over_time: pd.DataFrame):
    """Each large cluster's share per period as a line, with its Wilson band."""
    if "group" in over_time:  # the pooled lines; per-group shares stay in the table
        over_time = over_time[over_time["group"] == "all"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    largest = over_time.groupby("cluster")["n"].sum().nlargest(MAX_LINES).index
    periods = sorted(over_time["period"].unique())
    x = np.arange(len(periods))
    for cluster in largest:
        part = over_time[over_time["cluster"] == cluster].set_index("period").reindex(periods)
        (line,) = ax.plot(x, part["share"], marker="o", label=_label(cluster, part["name"].dropna().iloc[0]))
        ax.fill_between(x, part["ci_low"], part["ci_high"], alpha=0.2, color=line.get_color())
    ax.set_xticks(x, periods, rotation=45, ha="right")
    ax.set_ylabel("share of the period's items (95% interval)")
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def effects_plot(effects: pd.DataFrame):
    """Coefficient of each cluster against the reference, with robust 95% intervals."""
    rows = effects[effects["kind"] == "cluster"]
    exp = "exp_coef" in rows
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.5))
    est, low, high = (rows[f"exp_{c}" if exp else c] for c in ("coef", "ci_low", "ci_high"))
    y = np.arange(len(rows))
    ax.errorbar(est, y, xerr=[est - low, high - est], fmt="o", capsize=3)
    ax.axvline(1.0 if exp else 0.0, color="grey", linestyle="--")
    ax.set_yticks(y, [_label(c, n) for c, n in zip(rows["cluster"], rows["name"], strict=True)])
    ax.invert_yaxis()
    if exp:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # 0.5, 1, 2, 5 rather than 5x10^-1
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    what = {"negbin": "rate ratio", "poisson": "rate ratio", "logit": "odds ratio"}.get(
        effects.attrs.get("model"), "coefficient")
    ax.set_xlabel(f"{what} vs cluster {effects.attrs.get('reference')} (robust 95% interval)")
    ax.set_title(f"{effects.attrs.get('outcome', '')}", fontsize="medium")
    fig.tight_layout()
    return fig


def save_figure(fig, folder: Path, stem: str) -> list[str]:
    names = []
    for suffix in ("png", "svg"):
        fig.savefig(folder / f"{stem}.{suffix}", dpi=150 if suffix == "png" else None)
        names.append(f"{stem}.{suffix}")
    plt.close(fig)
    return names
