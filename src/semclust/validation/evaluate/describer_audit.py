"""The model audit: what two or more describers see in the same images, and how much it changes the clusters.

Arminio et al. discuss what a vision LLM notices and what it misses. For each describer
this describes the study's images (reusing every stored description), then on the items
all describers described it reports per model the refusal, truncation and failure rates
and the description length; clusters each model's descriptions with the same embedder,
reducer, clusterer and seed and compares the clusterings (AMI, Hungarian-ordered
co-occurrence heatmap); and lists the words each model uses more than the other
(weighted log-odds with an informative Dirichlet prior, :mod:`semclust.validation.evaluate.log_odds`).
Tables go to CSV, the whole to ``report.html``.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.study.config import DescribeOptions
from semclust.study.workspace import COLUMN_PREFIX, DescriptionSource, Study, backend_options
from semclust.validation.evaluate.ami import PAPER_FORM, adjusted_mutual_info
from semclust.validation.evaluate.compare import cooccurrence
from semclust.validation.evaluate.log_odds import distinctive_words, weighted_log_odds, word_counts


@dataclass
class AuditOptions:
    """How to describe and cluster for the audit."""

    prompt: str = "connotative"
    describe: DescribeOptions = field(default_factory=DescribeOptions)
    run_describers: bool = True  # False: use only descriptions already in the study
    embedder: str = "st:all-MiniLM-L6-v2"
    reducer: str | None = None  # None: the adaptive preset for the number of items
    clusterer: str | None = None
    seed: int = 0
    top_words: int = 25


@dataclass
class AuditResult:
    describers: list[str]
    models: pd.DataFrame  # one row per describer: rates and lengths
    agreement: pd.DataFrame  # one row per pair: AMI, clusters on each side
    words: dict[tuple[str, str], pd.DataFrame]  # per pair: the log-odds table
    heatmaps: dict[tuple[str, str], pd.DataFrame]
    labels: dict[str, pd.Series]  # each describer's clustering of the common items
    n_common: int
    settings: dict
    folder: Path | None = None


def audit_describers(study: Study, describers: list[str], options: AuditOptions | None = None,
                     progress: bool = True) -> AuditResult:
    """Describe with each of ``describers`` and compare them (see the module docstring)."""
    options = options or AuditOptions()
    if len(set(describers)) < 2:
        raise SemclustError("compare-describers needs at least two different describers")
    sources = {name: _source(study, name, options, progress) for name in describers}
    texts = {name: study.descriptions(source) for name, source in sources.items()}
    records = {name: _records(study, source) for name, source in sources.items()}
    models = pd.DataFrame([_model_row(name, records[name]) for name in describers])
    common = pd.concat([t.notna() for t in texts.values()], axis=1).all(axis=1)
    ids = common[common].index
    if len(ids) < 3:
        raise SemclustError(f"only {len(ids)} items have a description from every describer; at least 3 "
                            "are needed to compare clusterings")
    labels, settings = _cluster_each(study, {n: texts[n].loc[ids] for n in describers}, options, progress)
    stop = _stop_words()
    agreement, words, heatmaps = [], {}, {}
    for a, b in itertools.combinations(describers, 2):
        agreement.append({"describer_a": a, "describer_b": b, "items": len(ids),
                          "ami": adjusted_mutual_info(labels[a], labels[b], form=PAPER_FORM),
                          "clusters_a": _n_clusters(labels[a]), "clusters_b": _n_clusters(labels[b])})
        heatmaps[(a, b)] = cooccurrence(pd.Series(labels[a], index=ids), pd.Series(labels[b], index=ids),
                                        names=(a, b))
        words[(a, b)] = weighted_log_odds(word_counts(texts[a].loc[ids], stop),
                                          word_counts(texts[b].loc[ids], stop))
    labelings = {name: pd.Series(labels[name], index=ids, name=name) for name in describers}
    return AuditResult(list(describers), models, pd.DataFrame(agreement), words, heatmaps, labelings,
                       len(ids), settings)


def _source(study: Study, name: str, options: AuditOptions, progress: bool) -> DescriptionSource:
    if name.startswith(COLUMN_PREFIX):
        return DescriptionSource(name)
    from semclust.stages.describe import create_describer, description_key
    from semclust.stages.describe.prompts import resolve_prompt

    if options.run_describers:
        previous = study.store.get_state("description_source")
        try:
            study.describe(name, options.prompt, options.describe, progress=progress)
        finally:  # the audit must not change which descriptions the study's runs use
            if previous is not None:
                study.store.set_state("description_source", previous)
    backend = create_describer(name, **backend_options(options.describe))
    key = description_key("", backend, resolve_prompt(options.prompt), options.describe.max_side)
    return DescriptionSource(key.describer, key.model, key.prompt, key.params)


def _records(study: Study, source: DescriptionSource) -> pd.DataFrame:
    """Stored outcomes for the study's usable images under ``source`` (empty for a column)."""
    if source.column is not None:
        texts = study.descriptions(source).dropna()
        return pd.DataFrame({"status": "ok", "text": texts.to_numpy(), "finish_reason": None,
                             "completion_tokens": None})
    items = study.items()
    shas = items.loc[(items["status"] == "ok") & items["sha256"].notna(), "sha256"].unique()
    found = study.store.get_many([source.key(sha) for sha in shas])
    return pd.DataFrame([{"status": r.status, "text": r.text, "finish_reason": r.finish_reason,
                          "completion_tokens": r.completion_tokens} for r in found.values()],
                        columns=["status", "text", "finish_reason", "completion_tokens"])


def _model_row(name: str, records: pd.DataFrame) -> dict:
    n = len(records)
    ok = records[records["status"] == "ok"]
    words = ok["text"].fillna("").str.split().str.len()
    tokens = pd.to_numeric(ok["completion_tokens"], errors="coerce")
    return {
        "describer": name,
        "images": n,
        "described": len(ok),
        "refusal_rate": _share((records["status"] == "refused").sum(), n),
        "failure_rate": _share((records["status"] == "failed").sum(), n),
        "truncation_rate": _share((ok["finish_reason"] == "length").sum(), len(ok)),
        "mean_words": float(words.mean()) if len(ok) else np.nan,
        "median_words": float(words.median()) if len(ok) else np.nan,
        "mean_tokens": float(tokens.mean()) if tokens.notna().any() else np.nan,
    }


def _share(count: int, total: int) -> float:
    return float(count) / total if total else np.nan


def _cluster_each(study: Study, texts: dict[str, pd.Series], options: AuditOptions,
                  progress: bool) -> tuple[dict[str, np.ndarray], dict]:
    """The same embedder, reducer, clusterer and seed on each describer's texts."""
    from semclust.stages.cluster import create_clusterer
    from semclust.stages.reduce import create_reducer
    from semclust.study.adaptive import settings_for

    n = len(next(iter(texts.values())))
    chosen = settings_for(n, reducer=options.reducer, clusterer=options.clusterer)
    labels = {}
    for name, series in texts.items():
        vectors = study.embed_texts(series.astype(str).tolist(), options.embedder, progress=progress)
        reduced = create_reducer(chosen.reducer, random_state=options.seed).fit_transform(vectors)
        labels[name] = np.asarray(create_clusterer(chosen.clusterer, random_state=options.seed).fit_predict(reduced))
    settings = {"embedder": options.embedder, "reducer": chosen.reducer, "clusterer": chosen.clusterer,
                "seed": options.seed, "why": chosen.reason, "prompt": options.prompt}
    return labels, settings


def _n_clusters(labels: np.ndarray) -> int:
    return int(len(set(labels.tolist()) - {-1}))


def _stop_words() -> frozenset[str]:
    from semclust.core.stopwords import description_stop_words

    return description_stop_words()


def write_audit(result: AuditResult, folder: str | Path, top: int = 25) -> Path:
    """``models.csv``, ``agreement.csv``, ``words_A__vs__B.csv``, heatmaps and ``report.html``."""
    from semclust.stages.report import template_environment
    from semclust.validation.evaluate.plots import plot_cooccurrence

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result.models.to_csv(folder / "models.csv", index=False)
    result.agreement.to_csv(folder / "agreement.csv", index=False)
    pairs = []
    for (a, b), table in result.words.items():
        stem = f"{slug(a)}__vs__{slug(b)}"
        table.to_csv(folder / f"words_{stem}.csv", index=False)
        heatmap = plot_cooccurrence(result.heatmaps[(a, b)], folder / f"heatmap_{stem}.png",
                                    title=f"{a} vs {b}")
        more_a, more_b = distinctive_words(table, top)
        row = result.agreement[(result.agreement["describer_a"] == a) & (result.agreement["describer_b"] == b)]
        pairs.append({"a": a, "b": b, "ami": float(row["ami"].iloc[0]), "heatmap": heatmap.name,
                      "more_a": [_word_row(table, w) for w in more_a],
                      "more_b": [_word_row(table, w) for w in more_b], "words_csv": f"words_{stem}.csv"})
    (folder / "settings.json").write_text(json.dumps(result.settings, indent=2))
    page = template_environment().get_template("describer_audit.html.j2").render(
        describers=result.describers, models=result.models.to_dict("records"), pairs=pairs,
        n_common=result.n_common, settings=result.settings)
    (folder / "report.html").write_text(page, encoding="utf-8")
    result.folder = folder
    return folder / "report.html"


def _word_row(table: pd.DataFrame, word: str) -> dict:
    row = table[table["word"] == word].iloc[0]
    return {"word": word, "z": float(row["z"]), "count_a": int(row["count_a"]), "count_b": int(row["count_b"])}


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "describer"
