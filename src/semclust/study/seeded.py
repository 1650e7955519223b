"""Codebook-seeded runs: each item to the nearest code of a researcher's codebook above a
threshold, and the items that fit no code clustered inductively as candidate new themes.

Codes are embedded with the run's own embedder (name, definition, examples; an example image
stands in by its description in the study), so codes and items share one space. Clusters
0..K-1 are the codes in codebook order, K and up the new themes, -1 the items that fit no code
and no new theme. ``assignments.csv`` gains ``code``, ``code_similarity`` (to the assigned
code, or to the nearest one for items without a code), ``nearest_code`` and ``borderline``;
``clusters.csv`` gains ``kind``, ``code``, ``name`` (the code), ``summary`` (its definition)
and ``threshold`` (see :func:`code_cluster_columns`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from semclust.core.codebook import Code, CodebookError, load_codebook
from semclust.core.errors import SemclustError
from semclust.core.store import text_hash
from semclust.stages.code_assign import CodeAssignment, assign_codes, code_similarities, edge_flags
from semclust.stages.embed import create_text_embedder
from semclust.stages.map2d import map_coordinates
from semclust.study.config import RunConfig
from semclust.study.pipeline import (
    _description_source,
    adapt_to_size,
    build_assignments,
    exemplar_flags,
    label_run,
    reduce_and_cluster,
    relabel_by_size,
    report_run,
    summary_metrics,
    unclustered_reasons,
    used_description,
)
from semclust.study.runs import Run, mark_latest, new_run_folder, package_versions

if TYPE_CHECKING:
    from semclust.study.study_data import StudyData

log = logging.getLogger(__name__)

#: Fewer items outside the codes than this are not clustered into new themes.
MIN_NEW_THEME_ITEMS = 10
KIND_CODE, KIND_NEW, KIND_NONE = "code", "new theme", "no code"


def parse_min_similarity(value: str | float | None) -> float | None:
    """``auto``/None -> None (chosen from the data); a number in [-1, 1] otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise SemclustError(f"--min-similarity must be auto or a number between -1 and 1, got {value!r}") from None
    if not -1.0 <= number <= 1.0:
        raise SemclustError(f"--min-similarity must be auto or a number between -1 and 1, got {value!r}")
    return number


def code_texts(study: StudyData, codes: list[Code], embedder: str) -> tuple[list[list[str]], list[str]]:
    """Per code, the texts embedded for it (definition, then each example), each cut to the
    embedder's input limit (a warning names each code cut), and the names of the codes cut."""
    texts = [code.texts(_image_examples(study, code)) for code in codes]
    backend = create_text_embedder(embedder, **({"progress": False} if embedder.startswith("st") else {}))
    if getattr(backend, "corpus_dependent", False):
        raise CodebookError(f"{embedder} gives a text a vector that depends on the other texts; "
                            "codes cannot be placed among the items with it: use an st: or openai: embedder")
    if not hasattr(backend, "fit_to_limit"):
        return texts, []
    cut = []
    for code, parts in zip(codes, texts, strict=True):
        for j, text in enumerate(parts):
            parts[j], n_tokens, limit = backend.fit_to_limit(text)
            if n_tokens > limit:
                cut.append(code.name)
                log.warning("code %r: a text of it (its definition or an example) is %d tokens, more than the %d "
                            "%s reads; embedded truncated to the first %d (shorten it)",
                            code.name, n_tokens, limit, embedder, limit)
    return texts, cut


def code_vectors(study: StudyData, texts: list[list[str]], embedder: str) -> np.ndarray:
    """One vector per code: the mean of its texts' unit vectors."""
    from sklearn.preprocessing import normalize

    flat = [t for parts in texts for t in parts]
    vectors = normalize(np.asarray(study.embed_texts(flat, embedder, progress=False), dtype=np.float64))
    bounds = np.cumsum([0, *(len(parts) for parts in texts)])
    return np.vstack([vectors[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def _image_examples(study: StudyData, code: Code) -> tuple[str, ...]:
    """The study's descriptions of a code's example images (each must be an item of the study)."""
    if not code.images:
        return ()
    items = study.items()
    by_path = {str(Path(p).resolve()): i for p, i in zip(items["image"].astype(str), items["id"], strict=True)}
    descriptions = study.descriptions()
    found = []
    for image in code.images:
        item = by_path.get(str(Path(image).resolve()))
        text = descriptions.get(item) if item is not None else None
        if text is None or pd.isna(text):
            raise CodebookError(f"code {code.name!r}: the example image {image} is not a described item of the "
                                "study; ingest and describe it first, or give example texts instead")
        found.append(str(text))
    return tuple(found)


@dataclasses.dataclass(frozen=True)
class SeededLabels:
    """What a seeded assignment computed: the items, their vectors, the codes' texts and the labels."""

    ids: pd.Index
    X: np.ndarray
    texts: list[list[str]]  # per code: its definition, then its examples
    cut: list[str]  # names of the codes whose text was truncated for the embedder
    assigned: CodeAssignment
    labels: np.ndarray  # codes 0..K-1, new themes K.., -1 none
    probabilities: np.ndarray
    theme_config: dict | None


def seeded_labels(study: StudyData, config: RunConfig, codes: list[Code], threshold: float | None,
                  new_themes: bool, progress: bool = False) -> SeededLabels:
    """Codes and items embedded with ``config.embedder``, items assigned, the rest clustered
    (with ``new_themes``); nothing is written (stability reruns this per seed and embedder)."""
    from semclust.stages.embed.precomputed import is_precomputed
    from semclust.study.routes import text_features

    if config.route != "text" or is_precomputed(config.embedder):
        raise SemclustError("a codebook seeds runs on the text route with a text embedder (st:, onnx:, openai:): "
                            f"its codes cannot be embedded by route {config.route!r} / {config.embedder!r}")
    texts, cut = code_texts(study, codes, config.embedder)
    ids, X = text_features(study, config, progress)
    if len(ids) < 3:
        raise SemclustError(f"only {len(ids)} items have a description; at least 3 are needed")
    C = code_vectors(study, texts, config.embedder)
    assigned = assign_codes(code_similarities(X, C), threshold, config.seed)
    labels, probabilities, theme_config = _labels(X, assigned, len(codes), config, new_themes)
    return SeededLabels(ids, X, texts, cut, assigned, labels, probabilities, theme_config)


def seeded_cluster_run(study: StudyData, config: RunConfig, codebook: str | Path | list[Code],
                       min_similarity: str | float | None = "auto", new_themes: bool = False,
                       progress: bool = True) -> Run:
    """A new run whose clusters are the codebook's codes (and, with ``new_themes``, new themes)."""
    threshold = parse_min_similarity(min_similarity)
    codes = codebook if isinstance(codebook, list) else load_codebook(codebook)
    found = seeded_labels(study, config, codes, threshold, new_themes, progress)
    ids, X, assigned, labels = found.ids, found.X, found.assigned, found.labels
    distance, exemplar = _distances(X, labels, assigned, len(codes))
    source = _description_source(study)
    descriptions = study.descriptions(source) if source else pd.Series(dtype="string")
    assignments = build_assignments(study.items(), ids, labels, found.probabilities, descriptions,
                                    unclustered_reasons(study, source, config), distance, exemplar)
    assignments = _with_code_columns(assignments, ids, assigned, codes)
    config_dict = config.to_dict() | used_description(config, source)
    config_dict["source"] = source.__dict__ if source else None
    config_dict["codebook"] = codebook_record(codebook, codes, found.texts, found.cut, assigned, threshold,
                                              new_themes, found.theme_config)
    folder = new_run_folder(study.folder, config_dict)
    metrics = summary_metrics(labels, len(assignments)) | _code_metrics(labels, len(codes))
    run = Run(folder, config_dict, assignments, coords=map_coordinates(X, config.map, config.seed, progress),
              reduced=X, metrics=metrics)
    run.save()
    mark_latest(folder)
    study.store.put_run(run.id, config_dict, config.seed, package_versions(), "clustered")
    log.info("codebook: %d of %d items fit one of %d codes", int((assigned.code >= 0).sum()), len(ids), len(codes))
    return run


def codes_of_run(run: Run) -> list[Code]:
    """The codes a seeded run was made with, from its config.json (the file may have changed since)."""
    return [Code(c["name"], c["definition"], tuple(c["examples"]), tuple(c["images"]))
            for c in run.config["codebook"]["codes"]]


def seeded_execute_run(study: StudyData, config: RunConfig, codebook, min_similarity="auto", new_themes=False,
                       progress: bool = True) -> Run:
    """:func:`seeded_cluster_run`, then keywords and the report, as a plain run gets them."""
    run = seeded_cluster_run(study, config, codebook, min_similarity, new_themes, progress)
    label_run(run)
    report_run(run)
    return run


def _labels(X: np.ndarray, assigned: CodeAssignment, n_codes: int, config: RunConfig, new_themes: bool):
    """Cluster labels: codes 0..K-1, new themes K.., -1 for the rest; membership strengths; theme settings."""
    labels = assigned.code.copy()
    probabilities = np.where(labels >= 0, 1.0, np.nan)
    outside = np.flatnonzero(labels < 0)
    if not new_themes or len(outside) < MIN_NEW_THEME_ITEMS:
        if new_themes:
            log.info("only %d items fit no code: too few to look for new themes", len(outside))
        return labels, probabilities, None
    theme_config = adapt_to_size(dataclasses.replace(config, fit_sample=0), len(outside))
    found, strength, _ = reduce_and_cluster(X[outside], theme_config)
    found = relabel_by_size(found)
    labels[outside] = np.where(found >= 0, found + n_codes, -1)
    probabilities[outside] = strength
    return labels, probabilities, {"reducer": theme_config.reducer, "clusterer": theme_config.clusterer,
                                   "n_items": len(outside)}


def _distances(X: np.ndarray, labels: np.ndarray, assigned: CodeAssignment, n_codes: int):
    """Code members: 1 - similarity to the code, the most similar 10% exemplars; new themes: as any cluster."""
    in_code = labels >= 0
    in_code &= labels < n_codes
    distance, exemplar = exemplar_flags(X, np.where(labels >= n_codes, labels, -1))
    code_exemplar, _ = edge_flags(np.where(in_code, labels, -1), assigned.similarity)
    distance[in_code] = 1.0 - assigned.similarity[in_code]
    exemplar[in_code] = code_exemplar[in_code]
    return distance, exemplar


def _with_code_columns(assignments: pd.DataFrame, ids: pd.Index, assigned: CodeAssignment,
                       codes: list[Code]) -> pd.DataFrame:
    names = np.array([c.name for c in codes], dtype=object)
    _, borderline = edge_flags(assigned.code, assigned.similarity)
    per_item = pd.DataFrame({
        "id": ids,
        "code": np.where(assigned.code >= 0, names[np.maximum(assigned.code, 0)], ""),
        "code_similarity": assigned.similarity,
        "nearest_code": names[assigned.nearest],
        "borderline": borderline,
    })
    table = assignments.merge(per_item, on="id", how="left")
    table["code"] = table["code"].fillna("")
    table["nearest_code"] = table["nearest_code"].fillna("")
    table["borderline"] = table["borderline"].astype("boolean").fillna(False).astype(bool)
    return table


def codebook_record(codebook, codes: list[Code], texts: list[list[str]], cut: list[str], assigned: CodeAssignment,
                    threshold: float | None, new_themes: bool, theme_config: dict | None) -> dict:
    """What config.json keeps of the codebook: enough to know what seeded the run and how."""
    path = None if isinstance(codebook, list) else Path(codebook)
    return {
        "path": None if path is None else str(path.resolve()),
        "sha256": None if path is None else hashlib.sha256(path.read_bytes()).hexdigest(),
        "min_similarity": "auto" if threshold is None else threshold,
        "new_themes": new_themes,
        "new_theme_settings": theme_config,
        "codes": [{"name": c.name, "definition": c.definition, "examples": list(c.examples), "images": list(c.images),
                   "embedded_text_hashes": [text_hash(p) for p in t], "truncated": c.name in cut, "threshold": th.to_dict()}
                  for c, t, th in zip(codes, texts, assigned.thresholds, strict=True)],
    }


def _code_metrics(labels: np.ndarray, n_codes: int) -> dict:
    n = max(len(labels), 1)
    return {"n_codes": n_codes, "n_new_themes": len(np.unique(labels[labels >= n_codes])),
            "share_in_codes": float(np.mean((labels >= 0) & (labels < n_codes))) if len(labels) else 0.0,
            "share_in_new_themes": float(np.sum(labels >= n_codes) / n)}


def code_cluster_columns(clusters: pd.DataFrame, record: dict, assignments: pd.DataFrame) -> pd.DataFrame:
    """``clusters`` of a seeded run with every code (empty ones too) and the columns ``kind``,
    ``code``, ``name``, ``summary``, ``threshold`` and ``mean_similarity``; codes first."""
    codes = record["codes"]
    n_codes = len(codes)
    present = set(clusters["cluster"].astype(int))
    missing = [i for i in range(n_codes) if i not in present]
    if missing:
        empty = pd.DataFrame({"cluster": missing, "size": 0, "keywords": [[] for _ in missing]})
        clusters = pd.concat([clusters, empty], ignore_index=True)
    number = clusters["cluster"].astype(int)
    in_code = number.between(0, n_codes - 1)
    code_of = number.where(in_code, 0)
    clusters["kind"] = np.select([in_code, number >= n_codes], [KIND_CODE, KIND_NEW], KIND_NONE)
    clusters["code"] = np.where(in_code, [codes[i]["name"] for i in code_of], "")
    clusters["name"] = clusters["code"]
    clusters["summary"] = np.where(in_code, [codes[i]["definition"] for i in code_of], "")
    clusters["threshold"] = np.where(in_code, [codes[i]["threshold"]["value"] for i in code_of], np.nan)
    rows = assignments[assignments["cluster"].notna()]
    means = rows.groupby(rows["cluster"].astype(int))["code_similarity"].mean()
    clusters["mean_similarity"] = number.map(means).to_numpy()
    order = np.lexsort((number.to_numpy(), -clusters["size"].to_numpy(),
                        clusters["kind"].map({KIND_CODE: 0, KIND_NEW: 1, KIND_NONE: 2}).to_numpy()))
    ranked = clusters.iloc[order].reset_index(drop=True)
    codes_first = ranked[ranked["kind"] == KIND_CODE].sort_values("cluster", kind="stable")
    return pd.concat([codes_first, ranked[ranked["kind"] != KIND_CODE]], ignore_index=True)


#: Borderline members listed per code in the report.
BORDERLINE_SHOWN = 8


def codes_report(run: Run) -> dict:
    """The report's codes section of a seeded run: per code its size, threshold, mean similarity
    and least similar members (borderline), and the new themes with their members' nearest code."""
    from semclust.stages.keywords_format import parse_keywords

    record = run.config["codebook"]
    a = run.assignments[run.assignments["cluster"].notna()]
    cluster = a["cluster"].astype(int)
    codes = []
    for number, code in enumerate(record["codes"]):
        members = a[a["code"] == code["name"]].sort_values("code_similarity", kind="stable")
        codes.append({
            "cluster": number, "name": code["name"], "definition": code["definition"], "size": len(members),
            "threshold": code["threshold"]["value"], "rule": code["threshold"]["rule"],
            "mean_similarity": float(members["code_similarity"].mean()) if len(members) else None,
            "borderline": [{"id": str(r.id), "similarity": float(r.code_similarity),
                            "description": "" if pd.isna(r.description) else str(r.description)}
                           for r in members.head(BORDERLINE_SHOWN).itertuples()],
        })
    themes = []
    clusters = run.clusters if run.clusters is not None else pd.DataFrame(columns=["cluster", "keywords"])
    keywords = dict(zip(clusters["cluster"].astype(int), clusters["keywords"], strict=True))
    for number in sorted(set(cluster[(cluster >= len(codes)) & (a["code"].fillna("") == "")])):
        members = a[cluster == number]
        words = keywords.get(number, [])
        themes.append({"cluster": number, "size": len(members),
                       "nearest_code": members["nearest_code"].mode().iloc[0],
                       "keywords": parse_keywords(words) if isinstance(words, str) else list(words)})
    given = record["min_similarity"]
    rule = ("chosen per code from the data: docs/codebook.md" if given == "auto" else f"given: {given}")
    note = ("no new themes: too few items fit no code, or none formed a cluster" if record["new_themes"]
            else "not looked for (run with --new-themes)")
    return {"codes": codes, "new_themes": themes, "rule": rule, "new_themes_note": note}
