"""The Python API: a study folder and the stages that fill it.

``Study`` only orchestrates: each method hands plain data to one stage module
(ingest, describe, embed, reduce/cluster, label, report) and stores the result.
Every stage accepts precomputed input, so a user can stop after any step and
continue from the CLI or from Python.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import DescribeOptions, RunConfig
from .describe.base import DescriptionKey, canonical_params
from .embed import create_text_embedder
from .errors import SemclustError
from .ingest import IngestSummary, ingest
from .store import StudyStore, text_hash

log = logging.getLogger(__name__)

COLUMN_PREFIX = "column:"


@dataclass(frozen=True)
class DescriptionSource:
    """Which stored descriptions a run clusters: a column of the input, or a describer+prompt."""

    describer: str
    model: str = ""
    prompt: str = ""
    params: str = "{}"

    @property
    def column(self) -> str | None:
        return self.describer[len(COLUMN_PREFIX):] if self.describer.startswith(COLUMN_PREFIX) else None

    def key(self, sha256: str) -> DescriptionKey:
        return DescriptionKey(sha256, self.describer, self.model, self.prompt, self.params)


class Study:
    """A study folder: ``study.sqlite``, ``runs/<run-id>/`` and the caches."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.store = StudyStore(self.folder)

    @classmethod
    def open(cls, folder: str | Path) -> Study:
        return cls(folder)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- ingest -----------------------------------------------------------
    def ingest(self, source: str | Path, **options) -> IngestSummary:
        """Add a folder of images or a CSV/Parquet table with an ``image`` column."""
        summary = ingest(self.store, source, **options)
        self.store.set_state("input", str(source))
        return summary

    def items(self) -> pd.DataFrame:
        return self.store.items_frame()

    # --- describe ---------------------------------------------------------
    def describe(self, describer: str, prompt: str = "connotative",
                 options: DescribeOptions | None = None, progress: bool = True):
        """Describe every usable image once; returns the runner's summary (None for ``column:``)."""
        if describer.startswith(COLUMN_PREFIX):
            column = describer[len(COLUMN_PREFIX):]
            if column not in self.items().columns:
                raise SemclustError(
                    f"describer {describer!r}: the input has no column {column!r} "
                    f"(columns: {', '.join(self.items().columns)})"
                )
            self._set_source(DescriptionSource(describer))
            return None
        from .describe import create_describer, describe_images
        from .describe.prompts import resolve_prompt

        options = options or DescribeOptions()
        prompt_text = resolve_prompt(prompt)
        backend_options = {k: v for k, v in {
            "base_url": options.base_url, "temperature": options.temperature,
            "max_tokens": options.max_tokens, "timeout": options.timeout,
        }.items() if v is not None}
        backend = create_describer(describer, **backend_options)
        items = self.items()
        usable = items[items["status"] == "ok"].drop_duplicates("sha256")
        try:
            summary = describe_images(
                list(zip(usable["sha256"], usable["image"], strict=True)), backend, prompt_text,
                self.store, concurrency=options.concurrency, max_retries=options.max_retries,
                requests_per_minute=options.requests_per_minute, max_side=options.max_side,
                progress=progress,
            )
        finally:
            self._set_source(DescriptionSource(
                backend.name, backend.model, prompt_text, canonical_params(backend.generation_params())))
        return summary

    def _set_source(self, source: DescriptionSource) -> None:
        self.store.set_state("description_source", json.dumps(source.__dict__))

    def description_source(self) -> DescriptionSource:
        raw = self.store.get_state("description_source")
        if raw is None:
            raise SemclustError("no descriptions yet: run `semclust describe` first")
        return DescriptionSource(**json.loads(raw))

    def descriptions(self, source: DescriptionSource | None = None) -> pd.Series:
        """The description of each item (indexed by id); missing where there is none."""
        source = source or self.description_source()
        items = self.items()
        if source.column is not None:
            texts = items[source.column].astype("string").str.strip()
            texts = texts.where(texts != "", pd.NA)
            texts[items["status"] != "ok"] = pd.NA
            return pd.Series(texts.to_numpy(), index=items["id"], name="description", dtype="string")
        usable = items[items["status"] == "ok"]
        keys = {sha: source.key(sha) for sha in usable["sha256"].unique()}
        found = self.store.get_many(list(keys.values()))
        text_by_sha = {sha: found[k].text for sha, k in keys.items() if k in found and found[k].status == "ok"}
        values = [text_by_sha.get(sha) if status == "ok" else None
                  for sha, status in zip(items["sha256"], items["status"], strict=True)]
        return pd.Series(values, index=items["id"], name="description", dtype="string")

    def description_failures(self, source: DescriptionSource | None = None) -> pd.Series:
        """Why an item has no description (ingest error, refusal, API failure, empty column)."""
        source = source or self.description_source()
        items = self.items().set_index("id")
        reasons = pd.Series("no description", index=items.index, dtype="string")
        reasons[items["status"] != "ok"] = "unreadable image: " + items["error"].fillna("")
        if source.column is None:
            usable = items[items["status"] == "ok"]
            keys = {sha: source.key(sha) for sha in usable["sha256"].unique()}
            found = self.store.get_many(list(keys.values()))
            for item_id, sha in usable["sha256"].items():
                record = found.get(keys[sha])
                if record is not None and record.status != "ok":
                    reasons[item_id] = f"{record.status}: {record.error or ''}".strip()
        return reasons

    # --- embed ------------------------------------------------------------
    def embed_texts(self, texts: list[str], embedder: str, progress: bool = True) -> np.ndarray:
        """Embed ``texts``, reusing cached vectors keyed by (embedder, text hash)."""
        backend = create_text_embedder(embedder, **({"progress": progress} if embedder.startswith("st") else {}))
        if backend.corpus_dependent:
            return backend.embed_texts(texts)
        hashes = [text_hash(t) for t in texts]
        cached = self.store.get_vectors("text_embeddings", backend.name, hashes)
        missing = list(dict.fromkeys(h for h in hashes if h not in cached))
        if missing:
            first_text = dict(zip(hashes, texts, strict=True))
            vectors = backend.embed_texts([first_text[h] for h in missing])
            self.store.put_vectors("text_embeddings", backend.name, missing, vectors)
            cached.update(zip(missing, vectors, strict=True))
        log.info("embedded %d texts (%d from cache)", len(texts), len(texts) - len(missing))
        return np.vstack([cached[h] for h in hashes]).astype(np.float32)

    def embed(self, embedder: str = "st:all-MiniLM-L6-v2", progress: bool = True) -> tuple[pd.Index, np.ndarray]:
        """Embed every available description; returns (item ids, matrix)."""
        texts = self.descriptions().dropna()
        if texts.empty:
            raise SemclustError("no item has a description to embed")
        return texts.index, self.embed_texts(texts.tolist(), embedder, progress)

    # --- cluster, label, report -------------------------------------------
    def run(self, config: RunConfig, *, reducer=None, clusterer=None, progress: bool = True):
        """Embed, reduce, cluster, label and report the current descriptions as a new run."""
        from .pipeline import execute_run

        return execute_run(self, config, reducer=reducer, clusterer=clusterer, progress=progress)
