"""An evaluation in words: what each number measures, on what, and from how much data.

``evaluation.json`` and the headline use dotted keys (``pairs.connotative.f1_cv``) that
mean nothing to a reader. :func:`in_words` turns an evaluation into lines a person can
read -- "Cluster quality, connotative (Grimmer-King, same minus different, 0-2 scale):
1.27 from 112 same / 888 different pairs" -- and says where a threshold differs from the
paper's. Sections and keys it does not know are still shown, under their own names, so a
new measure never disappears from the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from semclust.validation.evaluate.ami import form_name
from semclust.validation.evaluate.headlines import headline

#: The papers' thresholds: >= 50 same and >= 50 different pairs (Arminio et al.), a graded
#: code of 2 ("closely related") as "belong together".
PAPER_MIN_PAIRS = 50
PAPER_PAIR_THRESHOLD = 2


@dataclass(frozen=True)
class Line:
    """One measure: what it is, its value (with the data behind it), and a note."""

    measure: str
    value: str
    note: str = ""


def in_words(evaluation: dict) -> list[Line]:
    """Every section of ``evaluation`` as lines in words, known sections first."""
    lines: list[Line] = []
    for name, section in evaluation.items():
        if not isinstance(section, dict):
            continue
        describe = _SECTIONS.get(name)
        try:
            lines += describe(section) if describe else _fallback(name, section)
        except (KeyError, TypeError, ValueError, AttributeError):  # a layout this version lacks
            lines += _fallback(name, section)
    return lines


def as_text(lines: list[Line]) -> str:
    """The lines as plain text, one measure a line (saved beside evaluation.json)."""
    out = []
    for line in lines:
        out.append(f"{line.measure}: {line.value}" + (f"  [{line.note}]" if line.note else ""))
    return "\n".join(out) + "\n"


def number(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _quality(section: dict) -> list[Line]:
    source = section.get("source", {})
    notes = []
    for key, flag in (("min_same", "--min-same"), ("min_diff", "--min-diff")):
        if source.get(key, PAPER_MIN_PAIRS) != PAPER_MIN_PAIRS:
            notes.append(f"{flag} {source[key]} instead of the paper's {PAPER_MIN_PAIRS}")
    lines = []
    for dimension, score in section["scores"].items():
        pairs = f"{score['n_same']} same / {score['n_diff']} different pairs"
        value = (
            f"{number(score['score'])} from {pairs}"
            if score.get("scorable")
            else f"not scorable ({score.get('reason')}); {pairs}"
        )
        lines.append(
            Line(
                f"Cluster quality, {dimension} (Grimmer-King, same minus different, 0-2 scale)",
                value,
                "; ".join(notes),
            )
        )
    return lines


def _pairs(section: dict) -> list[Line]:
    lines = []
    for dimension, result in section["by_dimension"].items():
        threshold = result.get("threshold")
        together = "code 1" if dimension == "same" else f"code >= {threshold}"
        note = ""
        if dimension != "same" and threshold not in (None, PAPER_PAIR_THRESHOLD):
            note = f"--pair-threshold {threshold} instead of the paper's {PAPER_PAIR_THRESHOLD}"
        scores, cv = result["scores"], result["cv"]
        folds = section.get("source", {}).get("folds", 5)
        cv_text = (
            cv["reason"]
            if "reason" in cv
            else f"{number(cv['mean']['f1'])} ± {number(cv['std']['f1'])}"
        )
        lines.append(
            Line(
                f"Pair precision / recall / F1, {dimension} (all coded pairs; together = {together})",
                f"{number(scores['precision'])} / {number(scores['recall'])} / "
                f"{number(scores['f1'])} on {scores.get('n_pairs', '?')} pairs; "
                f"{folds}-fold CV F1 {cv_text}",
                note,
            )
        )
        clustered = result.get("clustered_pairs")
        if clustered:
            s = clustered["scores"]
            lines.append(
                Line(
                    f"Pair precision / recall / F1, {dimension} (pairs of clustered images only)",
                    f"{number(s['precision'])} / {number(s['recall'])} / {number(s['f1'])} on "
                    f"{s.get('n_pairs', '?')} pairs ({clustered['n_left_out']} with an outlier "
                    "left out)",
                )
            )
    return lines


def _agreement(section: dict) -> list[Line]:
    lines = []
    for dimension, result in section["by_dimension"].items():
        measure = (
            f"Coder agreement, {dimension} (Krippendorff's alpha, ordinal; mean Cohen's kappa)"
        )
        if "reason" in result:
            lines.append(Line(measure, f"not computed: {result['reason']}"))
        else:
            lines.append(
                Line(
                    measure,
                    f"alpha {number(result['alpha'].get('ordinal'))}, "
                    f"kappa {number(result['mean_kappa'])}",
                )
            )
    return lines


def _external(section: dict) -> list[Line]:
    lines = []
    for column, result in section["by_column"].items():
        scores = result["with_outliers"]
        form = result.get("ami_form", "arithmetic")
        without = (result.get("without_outliers") or {}).get("ami")
        lines.append(
            Line(
                f"Agreement with the known labels '{column}' (adjusted mutual information, "
                f"{form} normalisation; outliers as one group)",
                f"AMI {number(scores['ami'])}"
                + (f" ({number(without)} without outliers)" if without is not None else "")
                + f"; ARI {number(scores['ari'])}; NMI {number(scores['nmi'])}",
            )
        )
    return lines


def _interpretability(section: dict) -> list[Line]:
    value = f"{number(section['accuracy'])} (chance {number(section.get('chance'))})"
    if section.get("merged_accuracy") is not None:
        value += f"; {number(section['merged_accuracy'])} with the merged clusters"
    return [
        Line(
            "Interpretability (share of image sets matched to their own cluster's keywords)",
            value,
        )
    ]


def _consistency(section: dict) -> list[Line]:
    return [
        Line(
            f"Within-cluster consistency, {column} (share of a cluster's items given its most "
            "common theme, mean over clusters)",
            number(result["mean"]),
        )
        for column, result in section["by_column"].items()
    ]


_INTERNAL = {
    "silhouette": "Silhouette (-1 to 1, higher = tighter, better separated clusters)",
    "davies_bouldin": "Davies-Bouldin index (lower = better separated)",
    "calinski_harabasz": "Calinski-Harabasz index (higher = better separated)",
    "s_dbw": "S_Dbw (lower = compact and well separated)",
}


def _internal(section: dict) -> list[Line]:
    reasons = section.get("reasons", {})
    return [
        Line(
            label,
            number(section[name], 3) if section.get(name) is not None else reasons.get(name, "–"),
            f"variant {section['s_dbw_variant']}"
            if name == "s_dbw" and section.get("s_dbw_variant")
            else "",
        )
        for name, label in _INTERNAL.items()
        if name in section
    ]


def _data_loss(section: dict) -> list[Line]:
    share = section.get("lost_share")
    value = (
        f"{share:.1%} of {section.get('n_items', '?')} items"
        if share is not None
        else section.get("reason", "–")
    )
    return [Line("Items left out as outliers (data loss with every cluster kept)", value)]


def _ratings(section: dict) -> list[Line]:
    lines = [
        Line(
            "Rating study",
            f"{section['ratings']} ratings of {section['images']} images by {section['coders']} "
            f"coders, {section['clusters_rated']} clusters",
        )
    ]
    for row in section.get("reliability", []):
        lines.append(
            Line(
                f"Reliability of '{row['scale']}' (Krippendorff's alpha, interval)",
                number(row["alpha_interval"])
                if row["alpha_interval"] is not None
                else row["reason"],
                f"{row['images_rated_twice']} images rated by 2+ coders",
            )
        )
    level = section.get("bootstrap", {}).get("confidence", 0.95)
    for row in section.get("by_group", []) + section.get("differences", []):
        if row["kind"] != "dimension":
            continue
        weights = (
            "clusters weighted equally"
            if row["weighting"] == "equal"
            else "weighted by cluster size"
        )
        lines.append(
            Line(
                f"Mean {row['measure']} rating, {row['group']} ({weights})",
                f"{number(row['mean'])} [{number(row['ci_low'])}, {number(row['ci_high'])}]",
                f"{level:.0%} bootstrap interval over {row['n_clusters']} clusters",
            )
        )
    return lines


def _stability(section: dict) -> list[Line]:
    seeds = section["seeds"]
    form = form_name(section.get("ami_form", "arithmetic"))  # sections written before the max form
    settings = ", ".join(str(section[key]) for key in ("embedder", "reducer", "clusterer"))
    return [
        Line(
            f"Agreement between seeds (AMI, {form}; outliers as one group)",
            f"mean {number(section['ami_mean'])}, min {number(section['ami_min'])}, "
            f"max {number(section['ami_max'])} over every pair of {len(seeds)} seeds",
            f"seeds {', '.join(map(str, seeds))}; reclustered with {settings}",
        ),
        Line(
            "Clusters found by each seed (outliers not counted)",
            ", ".join(f"seed {seed}: {n}" for seed, n in section["n_clusters"].items()),
        ),
        Line(
            f"Clusters of seed {seeds[0]} found again by every other seed (best-match Jaccard "
            f">= {section['jaccard_threshold']:g})",
            f"{section['n_persistent']} of {section['n_reference_clusters']}",
        ),
    ]


def _codebook_codes(section: dict) -> list[Line]:
    coders = len(section["coders"])
    lines = [Line("Agreement of coders and the model on the codebook (Krippendorff's alpha, nominal)",
                  f"{number(section['alpha_coders_and_model'])} with the model as one more coder; "
                  f"{number(section['alpha_coders'])} among the {coders} coder(s) alone",
                  f"{section['n_items']} items coded, {section['n_with_majority']} with a majority code")]
    for row in section["per_code"]:
        lines.append(Line(f"Code {row['code']!r}: precision / recall / F1 of the model against the coders",
                          f"{number(row['precision'])} / {number(row['recall'])} / {number(row['f1'])}",
                          f"coders gave it to {row['n_coded']}, the model to {row['n_model']} of the sample; "
                          "weighted by stratum"))
    return lines


def _code_stability(section: dict) -> list[Line]:
    seeds = section["seeds"]
    form = form_name(section["ami_form"])
    lines = [
        Line(f"Agreement of the seeded assignment between seeds (AMI, {form}; codes, new themes, none)",
             f"mean {number(section['ami_mean'])}, min {number(section['ami_min'])} over every pair of "
             f"{len(seeds)} seeds",
             f"seeds {', '.join(map(str, seeds))}, embedder {section['embedder']}; at least "
             f"{number(section['same_code_share_min'])} of the items keep their code in every seed"),
        Line(f"Codes and new themes of seed {seeds[0]} found again by every other seed (best-match Jaccard "
             f">= {section['jaccard_threshold']:g})",
             f"{section['codes_persistent']} of {section['codes_present']} codes, "
             f"{section['new_themes_persistent']} of {section['new_themes_present']} new themes"),
    ]
    for row in section["embedders"]:
        lines.append(Line(f"The same codes with embedder {row['embedder']} instead of {section['embedder']}",
                          f"{number(row['same_code_share'])} of the items get the same code "
                          f"(Cohen's kappa {number(row['kappa'])}, AMI {number(row['ami'])})",
                          "new themes counted as no code"))
    return lines


def _compare(section: dict) -> list[Line]:
    lines = []
    for other, result in section["runs"].items():
        without = _without_outliers(result["ami_without_outliers"], result["n_outlier_items"])
        lines.append(
            Line(
                f"Agreement with run {other} (AMI, {form_name(result['ami_form'])})",
                f"{number(result['ami_with_outliers'])} with outliers as one more label; {without}",
                f"{result['n_items']} items in both, {result['only_first']} only in this run, "
                f"{result['only_second']} only in {other}",
            )
        )
    return lines


def _without_outliers(ami, n_outliers: int) -> str:
    if n_outliers == 0:
        return "no item is an outlier in either run"
    if ami is None:
        return "every item is an outlier in one of the runs"
    return f"{number(ami)} without the {n_outliers} items that are an outlier in either run"


def _fallback(name: str, section: dict) -> list[Line]:
    """A section this module has no words for: its headline rows, keys made readable."""
    rows = headline({name: section}) or {
        key: value
        for key, value in section.items()
        if isinstance(value, int | float | str) and key != "computed"
    }
    return [
        Line(key.replace("_", " ").replace(".", ", "), number(value)) for key, value in rows.items()
    ]


_SECTIONS: dict[str, Callable[[dict], list[Line]]] = {
    "quality": _quality,
    "pairs": _pairs,
    "agreement": _agreement,
    "external": _external,
    "interpretability": _interpretability,
    "consistency": _consistency,
    "internal": _internal,
    "data_loss": _data_loss,
    "ratings": _ratings,
    "stability": _stability,
    "compare": _compare,
    "codebook_codes": _codebook_codes,
    "code_stability": _code_stability,
}
