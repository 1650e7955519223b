"""The ``semclust`` command line: one command per stage, plus ``run`` and ``demo`` that chain them."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.table import Table

from semclust.cli.common import console, open_study, user_errors, widen_help_off_terminal
from semclust.cli.describers import print_batches
from semclust.cli.options import (
    AddressOpt,
    ClustererOpt,
    ConcurrencyOpt,
    DeviceOpt,
    EmbedderOpt,
    EngineOpt,
    FitSampleOpt,
    GraceOpt,
    ImageEmbedderOpt,
    ImageWeightOpt,
    KeepGroupsOpt,
    MaxRetriesOpt,
    MaxTokensOpt,
    PresetOpt,
    PromptOpt,
    QuietOpt,
    ReducerOpt,
    RetryRefusedOpt,
    RetryTruncatedOpt,
    RouteOpt,
    RpmOpt,
    RunOpt,
    SeedOpt,
    StudyOpt,
    TextColumnOpt,
    TimeoutOpt,
    WeightsOpt,
)
from semclust.core.errors import SemclustError
from semclust.study.config import DescribeOptions, RunConfig

widen_help_off_terminal()
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Semantic clustering of images: describe, embed, cluster, label, validate.")

#: The options ``cluster`` and ``run`` share, by RunConfig field (``--weights`` is ``image_weights``).
RUN_OPTIONS = ("embedder", "reducer", "clusterer", "preset", "fit_sample", "device", "engine", "engine_address",
               "map", "route", "image_embedder", "image_weight", "text_column", "keep_groups", "seed")
#: The options ``describe`` and ``run`` share, by DescribeOptions field (``--rpm`` is ``requests_per_minute``).
DESCRIBE_OPTIONS = ("base_url", "concurrency", "max_side", "timeout", "max_retries", "max_tokens", "retry_refused",
                    "retry_truncated", "grace")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False, show_time=False)])
    for noisy in ("httpx", "httpcore", "numba", "sentence_transformers", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)  # -q lowers it per command
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' "Loading weights" bars: ours show progress


def describe_options(params: dict, **more) -> DescribeOptions:
    """The DescribeOptions of a command's :data:`DESCRIBE_OPTIONS` (its ``ctx.params``) and ``more`` of its own."""
    return DescribeOptions(**{name: params[name] for name in DESCRIBE_OPTIONS}, requests_per_minute=params["rpm"],
                           **more)


def run_config(params: dict, **more) -> RunConfig:
    """The RunConfig of a command's :data:`RUN_OPTIONS` (its ``ctx.params``) and ``more`` settings of its own."""
    return RunConfig(**{name: params[name] for name in RUN_OPTIONS}, image_weights=params["weights"], **more)


def _print_ingest(summary) -> None:
    console.print(f"ingested {summary.n_items} items: {summary.n_ok} usable, {summary.n_errors} skipped, "
                  f"{summary.n_unique_images} distinct images ({summary.n_exact_duplicates} exact duplicates, "
                  f"described once), {len(summary.near_duplicates)} near-duplicate pairs")
    for item_id, reason in summary.errors[:10]:
        console.print(f"  skipped [yellow]{item_id}[/]: {reason}", markup=True, highlight=False)
    if len(summary.errors) > 10:
        console.print(f"  ... and {len(summary.errors) - 10} more (all in skipped.csv)")
    if summary.replaced:
        console.print(f"[yellow]{len(summary.replaced)} id(s) were in the study already and changed[/] "
                      "(earlier versions kept in the study's item_versions table):")
        for item_id, change in summary.replaced[:10]:
            console.print(f"  {item_id}: {change}", markup=False, highlight=False)
        if len(summary.replaced) > 10:
            console.print(f"  ... and {len(summary.replaced) - 10} more")


def _print_describe(summary) -> None:
    """One line of counts; the reasons when some images failed; an error when none was described."""
    if summary is None:
        return
    console.print(f"descriptions: {summary}", highlight=False)
    if summary.reasons and summary.ok:
        console.print("  not described:\n  " + summary.describe_reasons().replace("\n", "\n  "),
                      markup=False, highlight=False)
    summary.check_any_described()


def describe_metrics(metrics: dict) -> str:
    """A run's summary in words: clusters, outliers and items left out, then any extra figures."""
    n_items, n_clustered = metrics.get("n_items", 0), metrics.get("n_clustered", 0)
    outliers = round(metrics.get("outlier_share", 0.0) * n_clustered)
    text = (f"{metrics.get('n_clusters', 0)} clusters and {outliers} outliers "
            f"({metrics.get('outlier_share', 0.0):.1%}) among {n_clustered} clustered items")
    if n_items > n_clustered:
        text += f"; {n_items - n_clustered} of {n_items} items not clustered (the note column says why)"
    known = {"n_items", "n_clustered", "n_clusters", "outlier_share"}
    extra = [f"{key.replace('_', ' ')}: {value:.3g}" if isinstance(value, float) else f"{key.replace('_', ' ')}: {value}"
             for key, value in metrics.items() if key not in known and not isinstance(value, dict | list)]
    return "; ".join([text, *extra])


def _print_not_clustered(assignments) -> None:
    """Items left out of the clustering (refused, failed, unreadable, ...), counted by reason."""
    cut = int(assignments["note"].fillna("").astype(str).str.startswith("description cut off").sum())
    if cut:
        console.print(f"{cut} clustered descriptions were cut off at the token limit (note column; "
                      "see --max-tokens and --retry-truncated)", highlight=False)
    notes = assignments.loc[assignments["cluster"].isna(), "note"].fillna("").astype(str)
    if notes.empty:
        return
    console.print(f"[yellow]{len(notes)} of {len(assignments)} items not clustered[/] (the note column of "
                  "assignments.csv says why):")
    reasons = notes.str.slice(0, 160).value_counts()
    for reason, count in reasons.head(8).items():
        console.print(f"  {count} × {reason or 'no reason recorded'}", markup=False, highlight=False)
    if len(reasons) > 8:
        console.print(f"  ... and {len(reasons) - 8} other reasons")


def _print_run(run) -> None:
    table = Table(title=f"run {run.id}")
    for column in ("cluster", "size", "keywords"):
        table.add_column(column)
    for row in run.clusters.itertuples():
        label = "outliers" if row.cluster == -1 else str(row.cluster)
        table.add_row(label, str(row.size), ", ".join(t for t, _ in row.keywords[:8]))
    console.print(table)
    _print_not_clustered(run.assignments)
    console.print(f"assignments: {run.folder / 'assignments.csv'}")
    console.print(f"report:      {run.folder / 'report.html'}")


# --- stages --------------------------------------------------------------------------------------

@app.command()
@user_errors()
def ingest(
    input: Annotated[Path, typer.Argument(help="A folder of images (recursive), or a CSV/Parquet file with an 'image' column.")],
    study: StudyOpt,
    near_duplicate_bits: Annotated[int, typer.Option(help="Perceptual-hash distance that counts as a near-duplicate.")] = 4,
    quiet: QuietOpt = False,
) -> None:
    """Add images to a study: hash, check and measure every file; bad files are recorded, not fatal."""
    with open_study(study) as s:
        _print_ingest(s.ingest(input, near_duplicate_bits=near_duplicate_bits, progress=not quiet))


@app.command()
@user_errors()
def describe(
    ctx: typer.Context,
    study: StudyOpt,
    describer: Annotated[str | None, typer.Option(help="openai:MODEL, ollama:MODEL, hf:MODEL, vllm:MODEL or column:NAME.")] = None,
    prompt: PromptOpt = "connotative",
    base_url: Annotated[str | None, typer.Option(help="Endpoint, e.g. http://localhost:11434/v1 (Ollama), a vLLM server; several, comma-separated, for a pool.")] = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    max_side: Annotated[int, typer.Option(help="Downscale images to this longest side before sending (cost).")] = 512,
    timeout: TimeoutOpt = 60.0,
    max_retries: MaxRetriesOpt = 5,
    max_tokens: MaxTokensOpt = None,
    retry_refused: RetryRefusedOpt = False,
    retry_truncated: RetryTruncatedOpt = False,
    grace: GraceOpt = 30.0,
    dry_run: Annotated[bool, typer.Option(help="Send nothing: count images (distinct, cached) and estimate tokens and cost.")] = False,
    budget: Annotated[float | None, typer.Option(help="USD: stop sending once the estimated spend reaches this.")] = None,
    prices: Annotated[Path | None, typer.Option(help="A TOML price file extending the shipped table.")] = None,
    batch: Annotated[bool, typer.Option(help="openai: through the provider's batch API (half price, results within 24 h; rerun to resume).")] = False,
    batch_poll: Annotated[float, typer.Option(help="Seconds between batch status checks (backs off to 10 min).")] = 60.0,
    status: Annotated[bool, typer.Option(help="List the study's provider batches and exit.")] = False,
    per_server: Annotated[int | None, typer.Option(help="Several --base-url servers: requests in flight per server.")] = None,
    device: Annotated[str | None, typer.Option(help="hf:/vllm: cuda, cuda:1, mps or cpu (default: the best available).")] = None,
    dtype: Annotated[str | None, typer.Option(help="hf:/vllm: bfloat16, float16 or float32 (default: by device).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default: not sent for APIs, greedy for hf:/vllm:); part of the cache key.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Describe each distinct image once; stored as it arrives, so a rerun continues where it stopped."""
    with open_study(study) as s:
        if status:
            print_batches(s.describe_batches())
            return
        if describer is None:
            raise typer.BadParameter("--describer is required (unless --status)", param_hint="--describer")
        from semclust.study.spec_check import check_describer

        check_describer(describer, prompt)  # before anything is read or sent
        options = describe_options(ctx.params, budget=budget, prices=str(prices) if prices else None, batch=batch,
                                   batch_poll=batch_poll, per_server=per_server, device=device, dtype=dtype,
                                   temperature=temperature)
        result = s.describe(describer, prompt, options, progress=not quiet, dry_run=dry_run)
        if dry_run:
            console.print(str(result), highlight=False)
        else:
            _print_describe(result)


@app.command()
@user_errors()
def embed(
    study: StudyOpt,
    embedder: EmbedderOpt = "st:all-MiniLM-L6-v2",
    engine: EngineOpt = "local",
    engine_address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Embed the descriptions (cached per text, so only new texts are embedded)."""
    from semclust.study.spec_check import check_embedder

    check_embedder(embedder)
    with open_study(study) as s:
        ids, matrix = s.embed(embedder, progress=not quiet, engine=engine, engine_address=engine_address)
        console.print(f"embedded {len(ids)} descriptions with {embedder}: {matrix.shape[1]} dimensions")


@app.command()
@user_errors()
def cluster(
    ctx: typer.Context,
    study: StudyOpt,
    embedder: Annotated[str, typer.Option(help="Text embedder.")] = "st:all-MiniLM-L6-v2",
    reducer: ReducerOpt = None,
    clusterer: ClustererOpt = None,
    preset: PresetOpt = "auto",
    fit_sample: FitSampleOpt = None,
    device: DeviceOpt = "auto",
    engine: EngineOpt = "local",
    engine_address: AddressOpt = None,
    map: Annotated[str, typer.Option(help="2-D map for the report: umap, pca or none.")] = "umap",
    route: RouteOpt = "text",
    image_embedder: ImageEmbedderOpt = "cnn:vgg16",
    weights: WeightsOpt = None,
    image_weight: ImageWeightOpt = 1.0,
    text_column: TextColumnOpt = None,
    keep_groups: KeepGroupsOpt = None,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
    codebook: Annotated[Path | None, typer.Option(
        help="Seed the run with a codebook (YAML, CSV, REFI-QDA .qdc/.qdpx): docs/codebook.md.")] = None,
    min_similarity: Annotated[str, typer.Option(
        help="With --codebook: auto (per code, from the data) or a cosine similarity.")] = "auto",
    new_themes: Annotated[bool, typer.Option(
        "--new-themes", help="With --codebook: cluster the items that fit no code into candidate new themes.")] = False,
) -> None:
    """Create a run: reduce and cluster along a route; writes assignments.csv/.parquet."""
    from semclust.study.pipeline import cluster_run
    from semclust.study.seeded import seeded_cluster_run
    from semclust.study.spec_check import check_run_config

    config = run_config(ctx.params)
    check_run_config(config)  # before the study is opened
    with open_study(study) as s:
        run = (seeded_cluster_run(s, config, codebook, min_similarity, new_themes, progress=not quiet)
               if codebook else cluster_run(s, config, progress=not quiet))
        console.print(f"run {run.id}: {describe_metrics(run.metrics)}", highlight=False)


@app.command()
@user_errors()
def label(
    study: StudyOpt,
    run: RunOpt = "latest",
    top_k: Annotated[int, typer.Option(help="Keywords per cluster.")] = 10,
    method: Annotated[str, typer.Option(help="tfidf (the paper's) or ctfidf (class-based).")] = "tfidf",
    stopwords: Annotated[Path | None, typer.Option(help="A file of extra words to drop, one per line.")] = None,
) -> None:
    """Keywords per cluster: the top TF-IDF terms of its joined descriptions -> clusters.csv."""
    from semclust.study.pipeline import label_run
    from semclust.study.runs import Run

    extra = _read_words(stopwords)
    labelled = label_run(Run.load(study, run), top_k=top_k, method=method, extra_stop_words=extra)
    _print_run(labelled)


def _read_words(path: Path | None) -> list[str]:
    if path is None:
        return []
    if not path.exists():
        raise SemclustError(f"stop-word file not found: {path}")
    return [w.strip() for w in path.read_text().split() if w.strip()]


@app.command()
@user_errors()
def report(study: StudyOpt, run: RunOpt = "latest") -> None:
    """Write the run's self-contained report.html."""
    from semclust.study.pipeline import report_run
    from semclust.study.runs import Run

    console.print(f"report: {report_run(Run.load(study, run))}")


@app.command()
@user_errors()
def finetune(
    labels_csv: Annotated[Path, typer.Argument(help="CSV with an 'image' column and one 0/1 column per label.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the fine-tuned embedder (.pt).")],
    base: Annotated[str, typer.Option(help="The network to start from: cnn:resnet18, cnn:resnet50, cnn:vgg16, ...")] = "cnn:resnet18",
    weights: Annotated[str | None, typer.Option(help="Starting weights file (default: the library's cache).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs (Casas et al.: 50).")] = 50,
    lr: Annotated[float, typer.Option(help="Learning rate (Casas et al.: 0.005).")] = 0.005,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 32,
    image_size: Annotated[int | None, typer.Option(help="Train and embed at this input size (smaller = faster on a CPU).")] = None,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Casas et al.'s multi-label fine-tuning; use the result as --image-embedder finetuned:OUT."""
    from semclust.stages.image_embed.finetune import finetune as run_finetune

    path = run_finetune(labels_csv, out_path=out, base=base, epochs=epochs, lr=lr, batch_size=batch_size,
                        weights=weights, seed=seed, image_size=image_size, progress=not quiet)
    console.print(f"saved {path}; cluster with: semclust cluster --route image --image-embedder finetuned:{path}")


# --- chains --------------------------------------------------------------------------------------

@app.command()
@user_errors()
def run(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="A folder of images, or a CSV/Parquet file with an 'image' column.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The study folder to create or continue.")],
    describer: Annotated[str, typer.Option(help="openai:MODEL, ollama:MODEL, column:NAME, or none (image route).")] = "openai:gpt-4o-mini",
    prompt: PromptOpt = "connotative",
    embedder: EmbedderOpt = "st:all-MiniLM-L6-v2",
    reducer: ReducerOpt = None,
    clusterer: ClustererOpt = None,
    preset: PresetOpt = "auto",
    fit_sample: FitSampleOpt = None,
    device: DeviceOpt = "auto",
    engine: EngineOpt = "local",
    engine_address: AddressOpt = None,
    top_k: Annotated[int, typer.Option(help="Keywords per cluster.")] = 10,
    stopwords: Annotated[Path | None, typer.Option(help="Extra words to drop from keywords.")] = None,
    map: Annotated[str, typer.Option(help="2-D map: umap, pca or none.")] = "umap",
    route: RouteOpt = "text",
    image_embedder: ImageEmbedderOpt = "cnn:vgg16",
    weights: WeightsOpt = None,
    image_weight: ImageWeightOpt = 1.0,
    text_column: TextColumnOpt = None,
    keep_groups: KeepGroupsOpt = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint of an OpenAI-compatible or Ollama server.")] = None,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    max_side: Annotated[int, typer.Option(help="Downscale images before sending.")] = 512,
    timeout: TimeoutOpt = 60.0,
    max_retries: MaxRetriesOpt = 5,
    max_tokens: MaxTokensOpt = None,
    retry_refused: RetryRefusedOpt = False,
    retry_truncated: RetryTruncatedOpt = False,
    grace: GraceOpt = 30.0,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """The whole pipeline: ingest -> describe -> embed -> reduce -> cluster -> label -> report."""
    options = describe_options(ctx.params)
    config = run_config(ctx.params, describer=describer, prompt=prompt, top_k=top_k,
                        extra_stop_words=_read_words(stopwords), describe=options)
    from semclust.study.spec_check import check_run

    check_run(config, input)  # every name, before ingest
    with open_study(out) as s:
        _print_ingest(s.ingest(input, progress=not quiet))
        if describer != "none":  # the image route needs no descriptions
            _print_describe(s.describe(describer, prompt, options, progress=not quiet))
        _print_run(s.run(config, progress=not quiet))


@app.command()
@user_errors()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to build the demo study.")] = Path("demo-study"),
    per_theme: Annotated[int, typer.Option(help="Generated posts per theme.")] = 40,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Offline, no key: generate a small corpus of poster-style images with post text, cluster and analyse it."""
    from semclust.study.demo_corpus import make_demo_corpus

    csv = make_demo_corpus(out / "corpus", n_per_theme=per_theme, seed=seed)
    console.print(f"generated the demo corpus: {csv}")
    config = RunConfig(describer="column:alt_text", reducer="umap:5:15",
                       clusterer=f"hdbscan:{max(5, per_theme // 3)}", seed=seed)
    with open_study(out / "study") as s:
        _print_ingest(s.ingest(csv, progress=not quiet))
        s.describe(config.describer)
        run = s.run(config, progress=not quiet)
        _print_run(run)
    from semclust.cli.analyze import write_analysis

    write_analysis(run, by="party", time="created_at", freq="month", outcome="retweets", model="negbin")


@app.command("warm-up")
@user_errors()
def warm_up() -> None:
    """Compile UMAP's and pynndescent's code once (about two minutes), so no later run waits for it."""
    from semclust.study.warm_up import warm_up as compile_once

    console.print(f"compiled and cached the clustering code in {compile_once():.0f} s")


from semclust.cli.validate import register as _register_validate  # noqa: E402

_register_validate(app)

from semclust.cli.annotate import register as _register_annotate  # noqa: E402

_register_annotate(app)

from semclust.cli.grid import register as _register_grid  # noqa: E402

_register_grid(app)

from semclust.cli.describers import register as _register_describers  # noqa: E402  (issue 11)

_register_describers(app)

from semclust.cli.explore import register as _register_explore  # noqa: E402  (issue 10)

_register_explore(app)

from semclust.cli.codes import register as _register_codes  # noqa: E402  (issue 18)

_register_codes(app)

from semclust.cli.themes import register as _register_themes  # noqa: E402  (issue 18)

_register_themes(app)

from semclust.cli.analyze import register as _register_analyze  # noqa: E402  (issue 16)

_register_analyze(app)

if __name__ == "__main__":
    app()
