"""The headline of an evaluation: the few numbers a reader looks for first.

:func:`headline` flattens ``evaluation.json`` to dotted names (``quality.connotative``,
``pairs.same.f1_cv``, ...) for the run's report and the terminal; a number that could not
be computed shows the reason instead.
"""

from __future__ import annotations

from collections.abc import Callable

from semclust.validation.evaluate.internal import INDEX_NAMES


def headline(evaluation: dict) -> dict:
    """The numbers a reader looks for first, flat, by dotted name (for the report and terminal)."""
    rows: dict[str, object] = {}
    for name, rows_of in _HEADLINES.items():
        if name in evaluation:
            rows |= {f"{name}.{key}": value for key, value in rows_of(evaluation[name]).items()}
    return rows


def _quality_rows(section: dict) -> dict:
    rows = {}
    for dimension, score in section["scores"].items():
        rows[dimension] = (
            score["score"] if score["scorable"] else f"not scorable: {score['reason']}"
        )
        rows[f"{dimension}.pairs"] = f"{score['n_same']} same, {score['n_diff']} different"
    return rows


def _pair_rows(section: dict) -> dict:
    rows = {}
    for dimension, result in section["by_dimension"].items():
        rows |= {f"{dimension}.{m}": result["scores"][m] for m in ("precision", "recall", "f1")}
        cv = result["cv"]
        rows[f"{dimension}.f1_cv"] = cv.get("reason") or _mean_sd(cv["mean"]["f1"], cv["std"]["f1"])
        clustered = result.get("clustered_pairs")
        if clustered:  # the same on clustered pairs only, and how many pairs that leaves out
            rows[f"{dimension}.f1_clustered_pairs"] = clustered["scores"]["f1"]
            rows[f"{dimension}.pairs_left_out_by_clustered_form"] = clustered["n_left_out"]
    return rows


def _agreement_rows(section: dict) -> dict:
    rows = {}
    for dimension, result in section["by_dimension"].items():
        if "reason" in result:
            rows[dimension] = result["reason"]
        else:
            rows[f"{dimension}.alpha_ordinal"] = result["alpha"].get("ordinal")
            rows[f"{dimension}.mean_kappa"] = result["mean_kappa"]
    return rows


def _external_rows(section: dict) -> dict:
    metrics = ("ami", "ari", "nmi", "homogeneity", "completeness")
    rows = {}
    for column, result in section["by_column"].items():
        rows |= {f"{column}.{m}": result["with_outliers"][m] for m in metrics}
        without = result["without_outliers"]
        rows[f"{column}.ami_without_outliers"] = without["ami"] if without else None
        rows[f"{column}.ami_form"] = result.get("ami_form", "arithmetic")
    return rows


def _interpretability_rows(section: dict) -> dict:
    metrics = ("accuracy", "chance", "mean_precision", "mean_recall", "mean_kappa")
    return {m: section[m] for m in (*metrics, "merged_accuracy") if section.get(m) is not None}


def _consistency_rows(section: dict) -> dict:
    return {column: result["mean"] for column, result in section["by_column"].items()}


def _internal_rows(section: dict) -> dict:
    rows = {
        name: section[name] if section[name] is not None else section["reasons"].get(name)
        for name in INDEX_NAMES
    }
    return rows | {"s_dbw_variant": section.get("s_dbw_variant", "s-dbw")}


def _data_loss_rows(section: dict) -> dict:
    return {"all_clusters_kept": section.get("lost_share", section.get("reason"))}


def _stability_rows(section: dict) -> dict:
    return {
        "ami_mean": section["ami_mean"],
        "ami_form": section.get("ami_form", "arithmetic"),
        "persistent_clusters": f"{section['n_persistent']} of {section['n_reference_clusters']}",
    }


def _compare_rows(section: dict) -> dict:
    rows = {}
    for other, result in section["runs"].items():
        rows[f"{other}.ami"] = result["ami"]
        if "ami_form" in result:  # sections written before both readings were kept lack them
            rows[f"{other}.ami_without_outliers"] = result["ami_without_outliers"]
            rows[f"{other}.ami_form"] = result["ami_form"]
    return rows


_HEADLINES: dict[str, Callable[[dict], dict]] = {
    "quality": _quality_rows,
    "pairs": _pair_rows,
    "agreement": _agreement_rows,
    "external": _external_rows,
    "interpretability": _interpretability_rows,
    "consistency": _consistency_rows,
    "internal": _internal_rows,
    "data_loss": _data_loss_rows,
    "stability": _stability_rows,
    "choose_k": lambda section: {"k": section["k"]},
    "compare": _compare_rows,
}


def _mean_sd(mean, sd) -> str:
    if mean is None:
        return "undefined in every fold"
    return f"{mean:.3f} ± {sd:.3f}"
