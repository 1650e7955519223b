"""The validation commands: ``sample``, ``evaluate``, ``compare``, ``stability``, ``choose-k``.

A thin layer: each command parses its options, calls :mod:`semclust.validation.sampling` or the
Python API of :mod:`semclust.validation.evaluate` (:func:`~semclust.validation.evaluate.evaluate_run` and its
siblings, which keep every result in the run's ``evaluation.json``), and prints a table.
Those modules are imported inside the commands, so that ``semclust --help`` stays fast.

:func:`register` adds the commands to the main app; option types that other commands share
come from :mod:`semclust.cli.options`.
"""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Annotated

import typer

from semclust.cli.common import console
from semclust.cli.common import user_errors as _user_errors
from semclust.cli.options import (
    CodesOpt,
    FoldsOpt,
    MinDiffOpt,
    MinSameOpt,
    RunOpt,
    ScaleOpt,
    SeedOpt,
    StudyOpt,
)
from semclust.core.errors import SemclustError


class AmiForm(enum.StrEnum):
    """AMI normaliser: max{H(T), H(I)} as Zhang & Leung A.1, or the mean (scikit-learn's default)."""

    max = "max"
    arithmetic = "arithmetic"


class SdbwVariant(enum.StrEnum):
    """S_Dbw reading: appendix A.2 (scale-invariant) or what the s-dbw package computes."""

    halkidi = "halkidi"
    s_dbw = "s-dbw"


AmiFormOpt = Annotated[
    AmiForm,
    typer.Option(help="AMI normaliser: max (Zhang & Leung A.1) or arithmetic (scikit-learn's default)."),
]
SdbwOpt = Annotated[
    SdbwVariant,
    typer.Option(help="S_Dbw: halkidi (appendix A.2, scale-invariant) or s-dbw (the package's)."),
]


class SampleKind(enum.StrEnum):
    """The kinds of sample `semclust sample` draws."""

    pairs = "pairs"
    stratified = "stratified"
    interpretability = "interpretability"
    consistency = "consistency"
    ratings = "ratings"
    codes = "codes"


def register(app: typer.Typer) -> None:
    """Add the validation commands to ``app``."""
    app.command()(sample)
    app.command()(evaluate)
    app.command()(compare)
    app.command()(stability)
    app.command("choose-k")(choose_k)



# --- sample ----------------------------------------------------------------------------------


def sample(
    kind: Annotated[
        SampleKind, typer.Argument(help="pairs, stratified, interpretability, consistency, ratings or codes (a seeded run).")
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
        int | None, typer.Option(help="stratified, ratings: items per cluster (5); consistency: (10).")
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
    per_coder: Annotated[
        int, typer.Option(help="ratings: images each coder rates (Casas et al.: 8).")
    ] = 8,
    groups: Annotated[
        str | None,
        typer.Option(help="ratings: coder groups, e.g. party=Democrat,Republican."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="File prefix; default STUDY/samples/KIND-RUN-seedSEED.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the files of an earlier sample.")] = False,
    seed: SeedOpt = 0,
) -> None:
    """Draw a sample for human coders: a CSV to fill in, an HTML contact sheet, a JSON sidecar."""
    from semclust.validation.sampling import SampleOptions, draw_sample

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
        per_coder=per_coder,
        groups=groups,
    )
    with _user_errors():
        paths = draw_sample(kind.value, study, run, options, seed=seed, out=out, overwrite=force)
        console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


# --- evaluate --------------------------------------------------------------------------------


def evaluate(
    study: StudyOpt,
    run: RunOpt = "latest",
    codes: CodesOpt = None,
    scale: ScaleOpt = "auto",
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
    min_same: MinSameOpt = 50,
    min_diff: MinDiffOpt = 50,
    pair_threshold: Annotated[
        float,
        typer.Option(help="A graded code at least this (0-2) means 'belong together' for pair F1."),
    ] = 2.0,
    folds: FoldsOpt = 5,
    ratings: Annotated[
        Path | None,
        typer.Option(help="A rating study's export (`semclust annotate export`): figures and tables."),
    ] = None,
    weighting: Annotated[
        str,
        typer.Option(
            help="ratings: average clusters with equal weight (the stratified design), by "
            "cluster size, or both."
        ),
    ] = "equal",
    bootstrap: Annotated[
        int, typer.Option(help="ratings: bootstrap replicates over clusters for the intervals.")
    ] = 2000,
    ami_form: AmiFormOpt = AmiForm.max,
    sdbw_variant: SdbwOpt = SdbwVariant.halkidi,
    seed: SeedOpt = 0,
    codebook_codes: Annotated[
        Path | None,
        typer.Option(help="A seeded run's `sample codes`, coded (annotate export): per-code precision/recall, alpha."),
    ] = None,
) -> None:
    """Score a run against everything available: coded pairs, labels, tests, internal indices."""
    from semclust.study.runs import Run
    from semclust.validation.evaluate import EvaluateOptions, evaluate_run

    options = EvaluateOptions(
        codes=codes,
        scale=scale,
        labels=tuple(labels or ()),
        interpretability=interpretability,
        key=key,
        letters=letters,
        merge=tuple(merge or ()),
        consistency=consistency,
        codebook_codes=codebook_codes,
        internal=internal,
        min_same=min_same,
        min_diff=min_diff,
        pair_threshold=pair_threshold,
        folds=folds,
        seed=seed,
        ami_form=ami_form.value,
        sdbw_variant=sdbw_variant.value,
    )
    with _user_errors():
        loaded = Run.load(study, run)
        result = evaluate_run(loaded, options)
        evaluation, shown = result.evaluation, list(result.sections)
        if ratings is not None:
            evaluation = _rating_study(loaded, ratings, weighting, bootstrap, seed)
            shown.append("ratings")
        computed = {name: evaluation[name] for name in shown if name in evaluation}
        print_in_words(computed, f"evaluation of run {loaded.id}", evaluation, result.path)
        console.print(f"details: {result.path}; report: {loaded.folder / 'report.html'}")


def _rating_study(loaded, path: Path, weighting: str, bootstrap: int, seed: int) -> dict:
    """The ratings section (Casas et al. Figures 9 and 10) saved into the run's evaluation."""
    from semclust.validation.evaluate.persist import save_sections
    from semclust.validation.evaluate.rating_study import ratings_section
    from semclust.validation.evaluate.ratings import WEIGHTINGS, RatingsOptions

    weightings = WEIGHTINGS if weighting == "both" else (weighting,)
    options = RatingsOptions(n_boot=bootstrap, seed=seed, weightings=weightings)
    return save_sections(loaded, {"ratings": ratings_section(loaded, path, options)})


def print_in_words(computed: dict, title: str, evaluation: dict, path: Path) -> None:
    """The sections ``computed`` now as a table in words; the whole ``evaluation`` in words
    beside its JSON (``path`` with ``.txt``), so the file never lags behind the numbers."""
    from rich.markup import escape
    from rich.table import Table

    from semclust.validation.evaluate.words import as_text, in_words

    table = Table(title=escape(title), show_lines=False)
    table.add_column("measure", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_column("note", overflow="fold", style="dim")
    for line in in_words(computed):  # column and coder names come from the user's files
        table.add_row(escape(line.measure), escape(line.value), escape(line.note))
    console.print(table)
    path.with_suffix(".txt").write_text(as_text(in_words(evaluation)), encoding="utf-8")


# --- compare, stability, choose-k ------------------------------------------------------------


def compare(
    study: StudyOpt,
    run: RunOpt = "latest",
    run_b: Annotated[str, typer.Option("--run-b", help="The run to compare with.")] = "latest",
    drop_outliers: Annotated[
        bool,
        typer.Option(help="Heatmap and headline AMI without items that are outliers in either run."),
    ] = False,
    ami_form: AmiFormOpt = AmiForm.max,
) -> None:
    """AMI between two runs of the same items, and their co-occurrence heatmap (Hungarian order)."""
    from semclust.study.runs import Run
    from semclust.validation.evaluate import compare_runs
    from semclust.validation.evaluate.persist import EVALUATION_FOLDER

    with _user_errors():
        first, second = Run.load(study, run), Run.load(study, run_b)
        saved = compare_runs(
            first, second, drop_outliers=drop_outliers, ami_form=ami_form.value
        )
        result = saved.evaluation["compare"]["runs"][second.id]
        computed = {"compare": {"runs": {second.id: result}}}  # earlier comparisons stay in the file
        title = f"run {first.id} compared with run {second.id}"
        print_in_words(computed, title, saved.evaluation, saved.path)
        heatmap = first.folder / EVALUATION_FOLDER / result["heatmap"]
        console.print(f"heatmap: {heatmap}", highlight=False)


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
    ami_form: AmiFormOpt = AmiForm.max,
    seed: SeedOpt = 0,
    embedders: Annotated[
        str | None, typer.Option(help="A codebook-seeded run: other embedders to redo it with, e.g. onnx:all-MiniLM-L6-v2.")
    ] = None,
) -> None:
    """Recluster the current descriptions with several seeds: pairwise AMI, persisting clusters."""
    from semclust.study.runs import Run
    from semclust.validation.evaluate import stability_of_run

    with _user_errors():
        loaded = Run.load(study, run)
        result = stability_of_run(
            loaded,
            study,
            range(seed, seed + seeds),
            embedder=embedder,
            reducer=reducer,
            clusterer=clusterer,
            jaccard=jaccard,
            ami_form=ami_form.value,
            embedders=_split(embedders),
        )
        name = "code_stability" if "codebook" in loaded.config else "stability"
        computed = {name: result.evaluation[name]}
        title = f"stability of run {loaded.id}'s settings over {seeds} seeds"
        print_in_words(computed, title, result.evaluation, result.path)


def choose_k(
    study: StudyOpt,
    run: RunOpt = "latest",
    k: Annotated[
        str, typer.Option("--k", help="K grid: START:STOP:STEP (STOP included) or a list 9,16,25.")
    ] = "2:30:2",
    threshold: Annotated[
        float, typer.Option(help="Stop at the first K whose marginal gain of S_Dbw is below this.")
    ] = 0.01,
    sdbw_variant: SdbwOpt = SdbwVariant.halkidi,
    seed: SeedOpt = 0,
) -> None:
    """Pick K by the marginal gain of S_Dbw (k-means over the run's reduced space)."""
    from semclust.study.runs import Run
    from semclust.validation.evaluate import choose_k_for_run

    with _user_errors():
        loaded = Run.load(study, run)
        result = choose_k_for_run(
            loaded, parse_grid(k), threshold=threshold, seed=seed, sdbw_variant=sdbw_variant.value
        )
        print_choose_k(result.sections["choose_k"].data)


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

    variant = data.get("s_dbw_variant", "s-dbw")
    title = f"S_Dbw ({variant}) by K (marginal-gain threshold {data['threshold']:g})"
    table = Table(title=title)
    for column in ("K", "S_Dbw", "gain"):
        table.add_column(column, justify="right")
    for row in data["table"].itertuples():
        mark = " <- chosen" if row.k == data["k"] else ""
        gain = "" if math.isnan(row.gain) else f"{row.gain:.4f}"
        table.add_row(f"{row.k}{mark}", f"{row.s_dbw:.4f}", gain)
    console.print(table)
    if data["k"] is None:
        console.print("the gain never fell below the threshold: widen the grid")
