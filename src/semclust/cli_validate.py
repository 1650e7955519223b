"""The validation commands: ``sample``, ``evaluate``, ``compare``, ``stability``, ``choose-k``.

They wire :mod:`semclust.sampling` and :mod:`semclust.evaluate` to a study's runs. Every
result lands in the run's ``evaluation.json``, one top-level key per section
(``quality``, ``pairs``, ``agreement``, ``external``, ``interpretability``,
``consistency``, ``internal``, ``data_loss``, ``stability``, ``choose_k``, ``compare``);
a command replaces only the sections it computes, so results gathered at different times
stay together. Tables go to ``runs/<id>/evaluation/*.csv``, plots beside them as PNG, and
the run's ``report.html`` is rendered again with the headline numbers.

:func:`register` adds the commands to the main app; the option types are declared here
(not imported from :mod:`semclust.cli`) because typer reads annotations from this
module's globals, and this module must not import the CLI at import time.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .errors import SemclustError

if TYPE_CHECKING:
    import pandas as pd

    from .runs import Run

log = logging.getLogger(__name__)

StudyOpt = Annotated[Path, typer.Option("--study", "-s", help="The study folder.")]
RunOpt = Annotated[str, typer.Option("--run", help="Run id, or 'latest'.")]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed (results are deterministic for a seed).")
]

EVALUATION_FILE = "evaluation.json"
EVALUATION_FOLDER = "evaluation"


class SampleKind(enum.StrEnum):
    """The kinds of sample `semclust sample` draws."""

    pairs = "pairs"
    stratified = "stratified"
    interpretability = "interpretability"
    consistency = "consistency"


def register(app: typer.Typer) -> None:
    """Add the validation commands to ``app``."""
    app.command()(sample)
    app.command()(evaluate)
    app.command()(compare)
    app.command()(stability)
    app.command("choose-k")(choose_k)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show a SemclustError as one red line and exit 1, as the other commands do."""
    from .cli import _fail

    try:
        yield
    except SemclustError as exc:
        _fail(exc)


def _console():
    from .cli import console

    return console


# --- sample ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleOptions:
    """What ``semclust sample`` was asked for; None means the kind's default."""

    n: int = 500
    balanced: bool = False
    coders: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ("denotative", "connotative")
    per_cluster: int | None = None
    leave_out: int = 1
    sets: int = 5
    set_size: int = 3
    text_column: str | None = None
    thumb_size: int = 200


#: The options each kind uses: the parameters recorded in its sidecar.
KIND_OPTIONS = {
    "pairs": ("n", "balanced", "coders", "dimensions"),
    "stratified": ("per_cluster", "leave_out"),
    "interpretability": ("sets", "set_size", "coders"),
    "consistency": ("per_cluster", "coders", "text_column"),
}
#: Default coder columns: two coders per pair (Arminio et al.), three evaluators (ibid. 3.2).
DEFAULT_CODERS = {
    "pairs": ("coder1", "coder2"),
    "interpretability": ("evaluator1", "evaluator2", "evaluator3"),
}


def sample(
    kind: Annotated[
        SampleKind, typer.Argument(help="pairs, stratified, interpretability or consistency.")
    ],
    study: StudyOpt,
    run: RunOpt = "latest",
    n: Annotated[int, typer.Option("--n", help="pairs: how many pairs.")] = 500,
    balanced: Annotated[
        bool, typer.Option(help="pairs: half same-cluster, half different-cluster pairs of --run.")
    ] = False,
    coders: Annotated[
        str | None,
        typer.Option(help="Comma-separated coder names, e.g. alice,bob (one column each)."),
    ] = None,
    dimensions: Annotated[
        str, typer.Option(help="pairs: what coders rate: denotative, connotative, same.")
    ] = "denotative,connotative",
    per_cluster: Annotated[
        int | None, typer.Option(help="stratified: items per cluster (5); consistency: (10).")
    ] = None,
    leave_out: Annotated[
        int, typer.Option(help="stratified: a cluster of N gives at most N - this many.")
    ] = 1,
    sets: Annotated[int, typer.Option(help="interpretability: image sets per cluster.")] = 5,
    set_size: Annotated[int, typer.Option(help="interpretability: images per set (alpha).")] = 3,
    text_column: Annotated[
        str | None, typer.Option(help="consistency: an input column (post text) to show.")
    ] = None,
    thumb_size: Annotated[
        int, typer.Option(help="Longest side of the sheet's thumbnails, in pixels.")
    ] = 200,
    out: Annotated[
        Path | None, typer.Option(help="File prefix; default STUDY/samples/KIND-RUN-seedSEED.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the files of an earlier sample.")] = False,
    seed: SeedOpt = 0,
) -> None:
    """Draw a sample for human coders: a CSV to fill in, an HTML contact sheet, a JSON sidecar."""
    options = SampleOptions(
        n=n,
        balanced=balanced,
        coders=_split(coders),
        dimensions=_split(dimensions),
        per_cluster=per_cluster,
        leave_out=leave_out,
        sets=sets,
        set_size=set_size,
        text_column=text_column,
        thumb_size=thumb_size,
    )
    with _user_errors():
        paths = draw_sample(kind.value, study, run, options, seed=seed, out=out, overwrite=force)
        _console().print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def draw_sample(
    kind: str,
    study: Path,
    run_id: str,
    options: SampleOptions,
    *,
    seed: int = 0,
    out: Path | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Draw and write one sample; returns the files written.

    Random pairs come from every usable image of the study and need no run; every other
    sample is drawn from the clusters of ``run_id``.
    """
    from . import sampling
    from .runs import Run

    options = _with_defaults(kind, options)
    run = None if kind == "pairs" and not options.balanced else Run.load(study, run_id)
    images = _usable_images(study) if run is None else _images(run.assignments)
    labels = None if run is None else sampling.cluster_labels(run.assignments)
    prefix = out or Path(study) / "samples" / f"{kind}-{run.id if run else 'all'}-seed{seed}"
    parameters = {name: getattr(options, name) for name in KIND_OPTIONS[kind]}
    provenance = sampling.Provenance(
        kind, str(Path(study).resolve()), run and run.id, seed, parameters
    )
    write = {"max_side": options.thumb_size, "overwrite": overwrite}
    if kind == "pairs":
        if run is None:
            pairs = sampling.draw_pairs(images.index.tolist(), options.n, seed)
        else:
            pairs = sampling.draw_balanced_pairs(labels, options.n, seed)
        return sampling.export_pairs(
            pairs,
            images,
            prefix,
            provenance,
            coders=options.coders,
            dimensions=options.dimensions,
            **write,
        )
    if kind == "stratified":
        table = sampling.stratified_sample(labels, options.per_cluster, options.leave_out, seed)
        return sampling.export_stratified(table, images, prefix, provenance, **write)
    if kind == "consistency":
        _require_column(run.assignments, options.text_column)
        table = sampling.consistency_sample(labels, options.per_cluster, seed)
        return sampling.export_consistency(
            table,
            run.assignments,
            prefix,
            provenance,
            coders=options.coders,
            text_column=options.text_column,
            **write,
        )
    test = sampling.interpretability_test(
        labels, _descriptions(run), options.sets, options.set_size, seed
    )
    return sampling.export_interpretability(
        test, images, prefix, provenance, evaluators=options.coders, **write
    )


def _with_defaults(kind: str, options: SampleOptions) -> SampleOptions:
    from . import sampling

    per_cluster = {
        "stratified": sampling.STRATIFIED_PER_CLUSTER,
        "consistency": sampling.CONSISTENCY_PER_CLUSTER,
    }
    return dataclasses.replace(
        options,
        coders=options.coders or DEFAULT_CODERS.get(kind, ()),
        per_cluster=options.per_cluster or per_cluster.get(kind),
    )


def _usable_images(study: Path) -> pd.Series:
    """Image path by id of every item whose image could be read."""
    from .study import Study

    with Study(study) as s:
        items = s.items()
    return _images(items[items["status"] == "ok"])


def _images(table: pd.DataFrame) -> pd.Series:
    return table.set_index(table["id"].astype(str))["image"]


def _descriptions(run: Run) -> dict[int, str]:
    """Each cluster's keywords as the evaluators read them: terms only, best first."""
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no keywords yet: run `semclust label` first")
    return {
        int(c): ", ".join(term for term, _ in keywords) or "(no keywords)"
        for c, keywords in zip(run.clusters["cluster"], run.clusters["keywords"], strict=True)
    }


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _require_column(table: pd.DataFrame, column: str | None) -> None:
    if column is not None and column not in table.columns:
        raise SemclustError(
            f"the run has no column {column!r}; it has {', '.join(map(str, table.columns))}"
        )


# --- the evaluation file ---------------------------------------------------------------------


@dataclass
class Section:
    """One part of an evaluation: JSON-able results, tables to save as CSV, plots to draw."""

    data: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots: dict[str, Callable[[Path], object]] = field(default_factory=dict)


def load_evaluation(run: Run) -> dict:
    path = run.folder / EVALUATION_FILE
    return json.loads(path.read_text()) if path.exists() else {"run": run.id}


def save_sections(run: Run, sections: dict[str, Section]) -> dict:
    """Merge ``sections`` into evaluation.json, write their tables and plots, redo the report."""
    evaluation = load_evaluation(run)
    folder = run.folder / EVALUATION_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for name, section in sections.items():
        evaluation[name] = plain(section.data) | {"computed": stamp}
        for table_name, table in section.tables.items():
            table.to_csv(folder / f"{name}_{table_name}.csv", index=False)
        for file_name, draw in section.plots.items():
            draw(folder / file_name)
    evaluation["updated"] = stamp
    (run.folder / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2, allow_nan=False))
    _render_report(run, evaluation)
    return evaluation


def _render_report(run: Run, evaluation: dict) -> None:
    """The run's report again, its metrics table extended by the evaluation's headline."""
    from .pipeline import label_run, report_run

    if run.clusters is None:
        label_run(run)
    metrics = dict(run.metrics or {}) | {"evaluation": headline(evaluation)}
    report_run(dataclasses.replace(run, metrics=metrics))


def plain(value):
    """JSON-safe: numpy scalars as Python numbers, NaN and NA as null, tables as records."""
    import numpy as np
    import pandas as pd

    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return plain(value.to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return plain(value.to_dict())
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return str(value) if isinstance(value, Path) else value


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
    return {
        f"{column}.{metric}": result["with_outliers"][metric]
        for column, result in section["by_column"].items()
        for metric in metrics
    }


def _interpretability_rows(section: dict) -> dict:
    metrics = ("accuracy", "chance", "mean_precision", "mean_recall", "mean_kappa")
    return {m: section[m] for m in (*metrics, "merged_accuracy") if section.get(m) is not None}


def _consistency_rows(section: dict) -> dict:
    return {column: result["mean"] for column, result in section["by_column"].items()}


def _internal_rows(section: dict) -> dict:
    from .evaluate.internal import INDEX_NAMES

    return {
        name: section[name] if section[name] is not None else section["reasons"].get(name)
        for name in INDEX_NAMES
    }


def _data_loss_rows(section: dict) -> dict:
    return {"all_clusters_kept": section.get("lost_share", section.get("reason"))}


def _stability_rows(section: dict) -> dict:
    return {
        "ami_mean": section["ami_mean"],
        "persistent_clusters": f"{section['n_persistent']} of {section['n_reference_clusters']}",
    }


def _compare_rows(section: dict) -> dict:
    return {f"{other}.ami": result["ami"] for other, result in section["runs"].items()}


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


def _shown(value) -> str:
    """Numbers to 4 significant digits, as the report shows them; None as a dash."""
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _mean_sd(mean, sd) -> str:
    if mean is None:
        return "undefined in every fold"
    return f"{mean:.3f} ± {sd:.3f}"


def print_headline(rows: dict, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", overflow="fold")
    for name, value in rows.items():
        table.add_row(name, _shown(value))
    _console().print(table)


# --- evaluate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateOptions:
    """Inputs and settings of ``semclust evaluate``."""

    codes: Path | None = None
    scale: str = "auto"
    labels: tuple[str, ...] = ()
    interpretability: Path | None = None
    key: Path | None = None
    letters: Path | None = None
    merge: tuple[str, ...] = ()
    consistency: Path | None = None
    internal: bool = False
    min_same: int = 50
    min_diff: int = 50
    pair_threshold: float = 2.0
    folds: int = 5
    seed: int = 0


def evaluate(
    study: StudyOpt,
    run: RunOpt = "latest",
    codes: Annotated[
        Path | None, typer.Option(help="Coded pairs CSV (id_a, id_b, <dimension>_<coder>...).")
    ] = None,
    scale: Annotated[
        str, typer.Option(help="Scale of the graded codes: auto, 0-2 or 1-3.")
    ] = "auto",
    labels: Annotated[
        list[str] | None, typer.Option(help="An input column of known labels (repeatable).")
    ] = None,
    interpretability: Annotated[
        Path | None, typer.Option(help="Interpretability answers CSV (needs --key).")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(help="Interpretability key CSV from `semclust sample interpretability`."),
    ] = None,
    letters: Annotated[
        Path | None, typer.Option(help="Letters CSV; default: the one beside the key.")
    ] = None,
    merge: Annotated[
        list[str] | None,
        typer.Option(
            help="Clusters to merge for the interpretability accuracy, e.g. 22+27 (repeatable)."
        ),
    ] = None,
    consistency: Annotated[
        Path | None, typer.Option(help="Consistency CSV with coded theme column(s).")
    ] = None,
    internal: Annotated[
        bool,
        typer.Option(
            help="Internal indices (silhouette, Davies-Bouldin, Calinski-Harabasz, S_Dbw)."
        ),
    ] = False,
    min_same: Annotated[
        int, typer.Option(help="Fewest same-cluster pairs for a quality score.")
    ] = 50,
    min_diff: Annotated[
        int, typer.Option(help="Fewest different-cluster pairs for a quality score.")
    ] = 50,
    pair_threshold: Annotated[
        float,
        typer.Option(help="A graded code at least this (0-2) means 'belong together' for pair F1."),
    ] = 2.0,
    folds: Annotated[
        int, typer.Option(help="Cross-validation folds for pair precision/recall.")
    ] = 5,
    seed: SeedOpt = 0,
) -> None:
    """Score a run against everything available: coded pairs, labels, tests, internal indices."""
    options = EvaluateOptions(
        codes=codes,
        scale=scale,
        labels=tuple(labels or ()),
        interpretability=interpretability,
        key=key,
        letters=letters,
        merge=tuple(merge or ()),
        consistency=consistency,
        internal=internal,
        min_same=min_same,
        min_diff=min_diff,
        pair_threshold=pair_threshold,
        folds=folds,
        seed=seed,
    )
    from .runs import Run

    with _user_errors():
        loaded = Run.load(study, run)
        evaluation = save_sections(loaded, evaluation_sections(loaded, options))
        print_headline(headline(evaluation), f"evaluation of run {loaded.id}")
        _console().print(
            f"details: {loaded.folder / EVALUATION_FILE}; report: {loaded.folder / 'report.html'}"
        )


def evaluation_sections(run: Run, options: EvaluateOptions) -> dict[str, Section]:
    """Every section the options give input for; the data-loss curve always."""
    sections: dict[str, Section] = {}
    if options.codes is not None:
        sections |= coded_pair_sections(run, options)
    if options.labels:
        sections["external"] = external_section(run, options.labels)
    if (options.interpretability is None) != (options.key is None):
        raise SemclustError("--interpretability (the answers) and --key go together: give both")
    if options.interpretability is not None:
        sections["interpretability"] = interpretability_section(run, options)
    if options.consistency is not None:
        sections["consistency"] = consistency_section(run, options.consistency)
    if options.internal:
        sections["internal"] = internal_section(run, options.seed)
    sections["data_loss"] = data_loss_section(run)
    return sections


def coded_pair_sections(run: Run, options: EvaluateOptions) -> dict[str, Section]:
    """Grimmer-King quality, pair precision/recall/F1 and coder agreement from one codes file."""
    from .evaluate import match_pairs
    from .evaluate.agreement import consensus_codes
    from .evaluate.codes import GRADED_DIMENSIONS

    codes = _load_codes(options.codes, options.scale)
    status = match_pairs(run.assignments, codes)
    pairs = codes.frame[["id_a", "id_b"]].assign(status=status.to_numpy())
    for dimension in codes.dimensions:
        pairs[dimension] = consensus_codes(codes, dimension).to_numpy()
    source = {"codes": str(options.codes), "scale": codes.scale, "n_pairs": len(codes.frame)}
    sections = {}
    graded = [d for d in codes.dimensions if d in GRADED_DIMENSIONS]
    if graded:
        sections["quality"] = quality_section(run, codes, graded, options, source, pairs)
    sections["pairs"] = pair_score_section(run, codes, options, source)
    sections["agreement"] = agreement_section(codes, source)
    return sections


def _load_codes(path: Path, scale: str):
    """:func:`load_codes`, with a file pandas cannot parse reported as a user error."""
    import pandas as pd

    from .evaluate import load_codes

    try:
        return load_codes(path, scale=scale)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SemclustError(f"cannot read the codes file {path}: {exc}") from exc


def quality_section(
    run: Run, codes, dimensions, options: EvaluateOptions, source, pairs
) -> Section:
    from .evaluate import grimmer_king

    scores = {
        d: grimmer_king(
            run.assignments, codes, d, min_same=options.min_same, min_diff=options.min_diff
        )
        for d in dimensions
    }
    data = {
        "source": source | {"min_same": options.min_same, "min_diff": options.min_diff},
        "scores": {d: s.to_dict() for d, s in scores.items()},
    }
    return Section(data, tables={"pairs": pairs})


def pair_score_section(run: Run, codes, options: EvaluateOptions, source) -> Section:
    """Precision/recall/F1 per dimension: ``same`` at 1, graded codes at ``pair_threshold``."""
    import pandas as pd

    from .evaluate import EvaluationInputError, pair_scores, pair_scores_cv
    from .evaluate.codes import BINARY_DIMENSIONS

    results, rows = {}, []
    for dimension in codes.dimensions:
        threshold = None if dimension in BINARY_DIMENSIONS else options.pair_threshold
        settings = {"dimension": dimension, "threshold": threshold}
        scores = pair_scores(run.assignments, codes, **settings)
        try:
            cv = pair_scores_cv(
                run.assignments,
                codes,
                n_splits=options.folds,
                random_state=options.seed,
                **settings,
            ).to_dict()
        except EvaluationInputError as exc:
            cv = {"reason": str(exc)}
        results[dimension] = {"threshold": threshold or 1, "scores": scores.to_dict(), "cv": cv}
        rows.append({"dimension": dimension, "threshold": threshold or 1} | scores.to_dict())
    data = {
        "source": source | {"folds": options.folds, "seed": options.seed},
        "by_dimension": results,
    }
    return Section(data, tables={"scores": pd.DataFrame(rows)})


def agreement_section(codes, source) -> Section:
    """Krippendorff's alpha and Cohen's kappa per dimension with two or more coders."""
    import pandas as pd

    from .evaluate import EvaluationInputError, coder_agreement

    results, kappas = {}, []
    for dimension in codes.dimensions:
        if len(codes.coder_columns(dimension)) < 2:
            continue
        try:
            agreement = coder_agreement(codes, dimension)
        except EvaluationInputError as exc:
            results[dimension] = {"reason": str(exc)}
            continue
        results[dimension] = agreement.to_dict()
        kappas.append(agreement.kappa.assign(dimension=dimension))
    tables = {"kappa": pd.concat(kappas, ignore_index=True)} if kappas else {}
    return Section({"source": source, "by_dimension": results}, tables=tables)


def external_section(run: Run, columns: tuple[str, ...]) -> Section:
    """AMI, ARI, NMI, homogeneity, completeness against each label column of the input."""
    import pandas as pd

    from .evaluate import external_scores

    rows = run.clustered()
    results = {}
    for column in columns:
        _require_column(rows, column)
        truth = rows[column].where(rows[column].astype("string").str.strip() != "")
        results[column] = external_scores(truth, rows["cluster"].astype(int)).to_dict()
    table = pd.DataFrame(
        [
            {"column": c, "outliers": reading} | (r[f"{reading}_outliers"] or {})
            for c, r in results.items()
            for reading in ("with", "without")
        ]
    )
    return Section({"by_column": results}, tables={"scores": table})


def interpretability_section(run: Run, options: EvaluateOptions) -> Section:
    from .evaluate import score_interpretability
    from .sampling import read_interpretability

    answers = read_interpretability(options.interpretability, options.key, options.letters)
    if answers.run and answers.run != run.id:
        raise SemclustError(
            f"the interpretability key was drawn from run {answers.run}, not {run.id}: "
            f"evaluate it with --run {answers.run}"
        )
    result = score_interpretability(
        answers.table,
        evaluators=answers.evaluators,
        clusters=answers.clusters,
        merge=[_merge_pair(text) for text in options.merge],
    )
    data = result.to_dict() | {
        "n_unanswered": answers.n_unanswered,
        "source": {"answers": str(options.interpretability), "key": str(options.key)},
    }
    tables = {"per_cluster": result.per_cluster, "confusion": result.confusion.reset_index()}
    return Section(data, tables=tables)


def _merge_pair(text: str) -> tuple[int, int]:
    parts = text.split("+")
    try:
        first, second = (int(p) for p in parts)
    except ValueError:
        raise SemclustError(
            f"--merge takes two cluster ids joined by '+', e.g. 22+27; got {text!r}"
        ) from None
    return first, second


def consistency_section(run: Run, path: Path) -> Section:
    """Within-cluster consistency of every ``theme`` / ``theme_<coder>`` column."""
    import pandas as pd

    from .evaluate import within_cluster_consistency
    from .sampling import read_csv

    coded = read_csv(path, "consistency")
    themes = [c for c in coded.columns if c == "theme" or c.startswith("theme_")]
    if "id" not in coded.columns or not themes:
        raise SemclustError(
            f"{path.name} needs an 'id' and a 'theme' (or theme_<coder>) column; "
            f"it has {list(coded.columns)}"
        )
    coded = coded.assign(cluster=_run_clusters(coded, run, path.name))
    results = {c: within_cluster_consistency(coded[["id", "cluster", c]], theme=c) for c in themes}
    table = pd.concat(
        [r.per_cluster.assign(column=c) for c, r in results.items()], ignore_index=True
    )
    data = {"source": str(path), "by_column": {c: r.to_dict() for c, r in results.items()}}
    return Section(data, tables={"per_cluster": table})


def _run_clusters(coded: pd.DataFrame, run: Run, name: str) -> list[int]:
    """Each coded item's cluster in the run; a file's own ``cluster`` column must agree.

    Themes describe the clusters the coders saw, so a file drawn from another run is an
    error, not a silently different score.
    """
    from .sampling import cluster_labels

    labels = cluster_labels(run.assignments)
    stated = coded["cluster"] if "cluster" in coded.columns else [None] * len(coded)
    for line, (item, cluster) in enumerate(zip(coded["id"], stated, strict=True), start=2):
        if item not in labels.index:
            raise SemclustError(
                f"line {line} of {name}: id {item!r} is not clustered in run {run.id}"
            )
        if cluster is not None and cluster.strip() != str(labels[item]):
            raise SemclustError(
                f"line {line} of {name}: id {item!r} is in cluster {cluster!r} in the file but "
                f"{labels[item]} in run {run.id}; was the sample drawn from another run?"
            )
    return labels.reindex(coded["id"]).tolist()


def internal_section(run: Run, seed: int) -> Section:
    from .evaluate.internal import internal_indices

    if run.reduced is None:
        raise SemclustError(
            f"run {run.id} has no reduced.npy: internal indices need the clustered space"
        )
    labels = run.clustered()["cluster"].astype(int).to_numpy()
    if len(labels) != len(run.reduced):
        raise SemclustError(
            f"run {run.id}: reduced.npy has {len(run.reduced)} rows but {len(labels)} items "
            "were clustered"
        )
    return Section(internal_indices(run.reduced, labels, random_state=seed))


def data_loss_section(run: Run) -> Section:
    """Share of all items outside the k largest clusters; unclustered items count as lost."""
    from .evaluate.dataloss import data_loss_curve
    from .evaluate.plots import plot_data_loss

    labels = run.assignments["cluster"].fillna(-1).astype(int).to_numpy()
    try:
        curve = data_loss_curve(labels)
    except SemclustError as exc:
        return Section({"reason": str(exc)})
    data = {"lost_share": curve.outlier_share, "n_items": curve.n_items, "curve": curve.table}
    return Section(
        data,
        tables={"curve": curve.table},
        plots={"data_loss.png": lambda path: plot_data_loss(curve.table, path)},
    )


# --- compare, stability, choose-k ------------------------------------------------------------


def compare(
    study: StudyOpt,
    run: RunOpt = "latest",
    run_b: Annotated[str, typer.Option("--run-b", help="The run to compare with.")] = "latest",
    drop_outliers: Annotated[
        bool, typer.Option(help="Leave out items that are outliers in either run.")
    ] = False,
) -> None:
    """AMI between two runs of the same items, and their co-occurrence heatmap (Hungarian order)."""
    from .runs import Run

    with _user_errors():
        first, second = Run.load(study, run), Run.load(study, run_b)
        result, section = compare_runs(first, second, drop_outliers)
        save_sections(first, {"compare": section})
        _console().print(
            f"AMI {first.id} vs {second.id}: {result['ami']:.3f} on {result['n_items']} items "
            f"({result['only_first']} only in the first, {result['only_second']} only in the "
            "second); "
            f"heatmap: {first.folder / EVALUATION_FOLDER / result['heatmap']}",
            highlight=False,
        )


def compare_runs(first: Run, second: Run, drop_outliers: bool) -> tuple[dict, Section]:
    """AMI and co-occurrence of the items both runs clustered: ``first``'s ``compare`` section."""
    from .evaluate.compare import ami, cooccurrence
    from .evaluate.plots import plot_cooccurrence
    from .sampling import cluster_labels

    all_a, all_b = cluster_labels(first.assignments), cluster_labels(second.assignments)
    common = all_a.index.intersection(all_b.index)
    if common.empty:
        raise SemclustError(f"runs {first.id} and {second.id} have no clustered item in common")
    a, b = all_a.reindex(common), all_b.reindex(common)
    table = cooccurrence(a, b, drop_outliers=drop_outliers, names=(first.id, second.id))
    heatmap = f"compare_{second.id}.png"
    result = {
        "ami": ami(a, b, drop_outliers=drop_outliers),
        "drop_outliers": drop_outliers,
        "n_items": len(common),
        "only_first": len(all_a) - len(common),
        "only_second": len(all_b) - len(common),
        "heatmap": heatmap,
    }
    data = {"runs": load_evaluation(first).get("compare", {}).get("runs", {}) | {second.id: result}}
    draw = {heatmap: lambda path: plot_cooccurrence(table, path)}
    return result, Section(
        data, tables={f"cooccurrence_{second.id}": table.reset_index()}, plots=draw
    )


def stability(
    study: StudyOpt,
    run: RunOpt = "latest",
    seeds: Annotated[int, typer.Option(help="How many seeds (from --seed on).")] = 5,
    embedder: Annotated[str | None, typer.Option(help="Default: the run's.")] = None,
    reducer: Annotated[str | None, typer.Option(help="Default: the run's.")] = None,
    clusterer: Annotated[str | None, typer.Option(help="Default: the run's.")] = None,
    jaccard: Annotated[
        float, typer.Option(help="Best-match Jaccard for a cluster to persist in another seed.")
    ] = 0.5,
    seed: SeedOpt = 0,
) -> None:
    """Recluster the current descriptions with several seeds: pairwise AMI, persisting clusters."""
    from .runs import Run

    with _user_errors():
        loaded = Run.load(study, run)
        overrides = {"embedder": embedder, "reducer": reducer, "clusterer": clusterer}
        seed_list = list(range(seed, seed + seeds))
        section = stability_section(loaded, study, seed_list, overrides, jaccard)
        evaluation = save_sections(loaded, {"stability": section})
        rows = {k: v for k, v in headline(evaluation).items() if k.startswith("stability.")}
        rows["stability.n_clusters_by_seed"] = ", ".join(
            f"{s}: {n}" for s, n in section.data["n_clusters"].items()
        )
        print_headline(rows, f"stability of run {loaded.id}'s settings over {seeds} seeds")


def stability_section(
    run: Run, study: Path, seeds: list[int], overrides: dict, jaccard: float
) -> Section:
    """Recluster the study's current embedded descriptions once per seed.

    ``overrides`` replaces the run's ``embedder``, ``reducer`` or ``clusterer`` where not None.
    """
    from .config import RunConfig
    from .evaluate.stability import stability as seed_stability
    from .pipeline import reduce_and_cluster
    from .study import Study

    config = RunConfig.from_dict(run.config)
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v})
    with Study(study) as s:
        if s.description_source().__dict__ != run.config.get("source"):
            log.warning("the study's descriptions have changed since run %s", run.id)
        _, X = s.embed(config.embedder, progress=False)

    def fit_predict(seed: int):
        return reduce_and_cluster(X, dataclasses.replace(config, seed=seed))[0]

    report = seed_stability(fit_predict, seeds, jaccard_threshold=jaccard)
    data = {
        "embedder": config.embedder,
        "reducer": config.reducer,
        "clusterer": config.clusterer,
        "seeds": report.seeds,
        "ami_mean": report.ami_mean,
        "ami_min": report.ami_min,
        "ami_max": report.ami_max,
        "n_clusters": report.n_clusters.to_dict(),
        "n_persistent": report.n_persistent,
        "n_reference_clusters": len(report.persistence),
        "jaccard_threshold": jaccard,
        "pairwise_ami": report.pairwise_ami,
        "persistence": report.persistence,
    }
    return Section(
        data, tables={"pairwise_ami": report.pairwise_ami, "persistence": report.persistence}
    )


def choose_k(
    study: StudyOpt,
    run: RunOpt = "latest",
    k: Annotated[
        str, typer.Option("--k", help="K grid: START:STOP:STEP (STOP included) or a list 9,16,25.")
    ] = "2:30:2",
    threshold: Annotated[
        float, typer.Option(help="Stop at the first K whose marginal gain of S_Dbw is below this.")
    ] = 0.01,
    seed: SeedOpt = 0,
) -> None:
    """Pick K by the marginal gain of S_Dbw (k-means over the run's reduced space)."""
    from .runs import Run

    with _user_errors():
        loaded = Run.load(study, run)
        section = choose_k_section(loaded, parse_grid(k), threshold, seed)
        save_sections(loaded, {"choose_k": section})
        print_choose_k(section.data)


def choose_k_section(run: Run, grid: list[int], threshold: float, seed: int) -> Section:
    from .evaluate.choose_k import choose_k as marginal_gain_rule
    from .evaluate.plots import plot_marginal_gain

    if run.reduced is None:
        raise SemclustError(f"run {run.id} has no reduced.npy to cluster at each K")
    choice = marginal_gain_rule(run.reduced, grid, threshold=threshold, random_state=seed)
    data = {"grid": grid, "threshold": threshold, "k": choice.k, "table": choice.table}
    draw = {
        "choose_k.png": lambda path: plot_marginal_gain(
            choice.table, path, threshold=threshold, chosen_k=choice.k
        )
    }
    return Section(data, tables={"s_dbw": choice.table}, plots=draw)


def parse_grid(text: str) -> list[int]:
    """``"2:30:2"`` -> 2, 4, ..., 30; ``"9,16,25"`` -> 9, 16, 25."""
    try:
        if ":" in text:
            start, stop, *step = (int(p) for p in text.split(":"))
            if len(step) > 1 or (step and step[0] < 1):
                raise ValueError
            return list(range(start, stop + 1, step[0] if step else 1))
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise SemclustError(f"--k must look like 2:30:2 or 9,16,25; got {text!r}") from None


def print_choose_k(data: dict) -> None:
    from rich.table import Table

    table = Table(title=f"S_Dbw by K (marginal-gain threshold {data['threshold']:g})")
    for column in ("K", "S_Dbw", "gain"):
        table.add_column(column, justify="right")
    for row in data["table"].itertuples():
        mark = " <- chosen" if row.k == data["k"] else ""
        gain = "" if math.isnan(row.gain) else f"{row.gain:.4f}"
        table.add_row(f"{row.k}{mark}", f"{row.s_dbw:.4f}", gain)
    _console().print(table)
    if data["k"] is None:
        _console().print("the gain never fell below the threshold: widen the grid")
