"""The Python API: a study folder and the stages that fill it.

``Study`` only orchestrates: each method hands plain data to one stage module
(ingest, describe, embed, reduce/cluster, label, report) and stores the result.
Every stage accepts precomputed input, so a user can stop after any step and
continue from the CLI or from Python.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.core.store import StudyStore, text_hash
from semclust.core.store.records import DescriptionKey
from semclust.stages.embed import create_text_embedder
from semclust.stages.ingest import IngestSummary, ingest
from semclust.study.config import DescribeOptions, RunConfig

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


def backend_options(options: DescribeOptions) -> dict:
    """The options a describer factory takes, leaving out those not set (each backend checks its own)."""
    names = ("base_url", "temperature", "max_tokens", "per_server", "device", "dtype")
    return {name: getattr(options, name) for name in names if getattr(options, name) is not None}


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
    def ingest(self, source: str | Path | pd.DataFrame, **options) -> IngestSummary:
        """Add a folder of images or a CSV/Parquet table (or DataFrame) with an ``image`` column."""
        summary = ingest(self.store, source, **options)
        self.store.set_state("input", "a DataFrame" if isinstance(source, pd.DataFrame) else str(Path(source).resolve()))
        pd.DataFrame(summary.near_duplicates, columns=["id_a", "id_b", "phash_distance"]).to_csv(
            self.folder / "near_duplicates.csv", index=False)
        pd.DataFrame(summary.errors, columns=["id", "reason"]).to_csv(self.folder / "skipped.csv", index=False)
        return summary

    def add(self, data, *, image: str | None = None, id: str | None = None, text: str | None = None,
            progress: bool = True, **options) -> IngestSummary:
        """Add items from a pandas or polars DataFrame, a folder of images, or a CSV/Parquet file.

        ``image`` names the column of image paths (relative ones start at the working
        directory for a DataFrame, at the file's folder for a file), ``id`` the column of item
        ids (default: the DataFrame's index when it is not a plain 0..n-1 range, else
        ``row<N>`` numbered after the study's items), and ``text`` a column of text to cluster
        (a description you already have, or the post text of items without images); when the
        study has no descriptions yet, ``text`` becomes its description source.
        Other columns are kept and carried to every output.
        """
        if isinstance(data, str | Path) and image is None and id is None:
            summary = self.ingest(data, progress=progress, **options)
        else:
            summary = self.ingest(self.as_table(data, image=image, id=id), progress=progress, **options)
        if text is not None:
            if text not in self.items().columns:
                raise SemclustError(f"text={text!r}: the input has no such column")
            if self.store.get_state("description_source") is None:
                self.describe(f"{COLUMN_PREFIX}{text}")
        return summary

    def as_table(self, data, *, image: str | None = None, id: str | None = None) -> pd.DataFrame:
        """``data`` as a pandas table with ``id`` and ``image`` columns named as ingest expects."""
        if isinstance(data, str | Path):
            from semclust.stages.ingest import read_input

            source = Path(data).expanduser()
            if source.is_dir() or (image is None and id is None):
                return read_input(source)
            raw = (pd.read_csv(source, dtype=str, keep_default_na=False) if source.suffix.lower() == ".csv"
                   else pd.read_parquet(source))
            if image in raw.columns:  # relative paths start at the file's folder, as in ingest
                raw[image] = [str((source.parent / str(v)).resolve()) if str(v) else "" for v in raw[image]]
            return self.as_table(raw, image=image, id=id)
        if not isinstance(data, pd.DataFrame):
            if not hasattr(data, "to_pandas"):
                raise SemclustError(f"cannot add a {type(data).__name__}: give a DataFrame, a folder or a file")
            data = data.to_pandas()  # polars (and pyarrow tables)
        table = data.copy()
        for role, column in (("image", image), ("id", id)):
            if column is None:
                continue
            if column not in table.columns:
                raise SemclustError(f"{role}={column!r}: the DataFrame has no such column "
                                    f"(columns: {', '.join(map(str, table.columns))})")
            if column != role:
                if role in table.columns:
                    raise SemclustError(f"the DataFrame has both a {role!r} column and {role}={column!r}; "
                                        f"rename one of them")
                table = table.rename(columns={column: role})
        if "id" not in table.columns:
            named = not isinstance(table.index, pd.RangeIndex) or any(n is not None for n in table.index.names)
            if named:
                table = table.reset_index(names="id") if table.index.nlevels == 1 else table.reset_index()
            else:
                start = len(self.store.items())
                table.insert(0, "id", [f"row{start + i}" for i in range(len(table))])
        return table.reset_index(drop=True)

    def items(self) -> pd.DataFrame:
        return self.store.items_frame()

    def input_columns(self) -> list[str]:
        """The columns the user's input had: the items' columns but those semclust adds itself."""
        from semclust.stages.ingest import RESERVED_COLUMNS

        return [str(c) for c in self.items().columns if c not in RESERVED_COLUMNS]

    # --- describe ---------------------------------------------------------
    def describe(self, describer: str, prompt: str = "connotative",
                 options: DescribeOptions | None = None, progress: bool = True, dry_run: bool = False):
        """Describe every usable image once; returns the runner's summary (None for ``column:``).

        ``dry_run`` sends nothing and returns a :class:`~semclust.stages.describe.plan.DescribePlan`:
        distinct images, those already described, estimated tokens and cost.
        """
        from semclust.study.spec_check import check_describer, check_input_column

        check_describer(describer, prompt)
        if describer.startswith(COLUMN_PREFIX):
            check_input_column(describer, self.input_columns())
            self._set_source(DescriptionSource(describer))
            return None
        from semclust.stages.describe import create_describer, describe_images, description_key
        from semclust.stages.describe.cost import load_prices
        from semclust.stages.describe.plan import plan_describe
        from semclust.stages.describe.prompts import resolve_prompt

        items = self.items()
        usable = items[(items["status"] == "ok") & items["sha256"].notna()].drop_duplicates("sha256")
        if usable.empty:
            raise SemclustError(f"describer {describer!r}: the study has no readable images; for items "
                                "without images use --describer column:NAME (their text)")
        options = options or DescribeOptions()
        prompt_text = resolve_prompt(prompt)
        backend = create_describer(describer, **backend_options(options))
        sizes = self.store.images_frame().set_index("sha256")[["width", "height"]]
        sizes = sizes.reindex(usable["sha256"]).fillna(options.max_side or 512).astype(int)
        plan = plan_describe(list(zip(usable["sha256"], sizes["width"], sizes["height"], strict=True)),
                             backend, prompt_text, self.store, max_side=options.max_side,
                             prices=load_prices(options.prices), batch=options.batch)
        if dry_run:
            return plan
        probe = description_key("", backend, prompt_text, options.max_side)
        self._set_source(DescriptionSource(probe.describer, probe.model, probe.prompt, probe.params))
        # how to describe items added later (transform); the key is never in the options
        self.store.set_state("describe_call", json.dumps({"describer": describer, "prompt": str(prompt),
                                                          "options": asdict(options)}, default=str))
        items = list(zip(usable["sha256"], usable["image"], strict=True))
        if options.batch:
            from semclust.core.store.batches import StudyBatchLedger
            from semclust.stages.describe.batch import BatchPolling, describe_in_batches

            ledger = StudyBatchLedger(self.store, probe.describer, probe.model, probe.prompt_hash,
                                      probe.params_hash)
            return describe_in_batches(items, backend, prompt_text, self.store, ledger,
                                       max_side=options.max_side, budget=plan.budget(options.budget),
                                       polling=BatchPolling(first=options.batch_poll), progress=progress)
        return describe_images(
            items, backend, prompt_text, self.store, budget=plan.budget(options.budget),
            concurrency=options.concurrency, max_retries=options.max_retries,
            requests_per_minute=options.requests_per_minute, timeout=options.timeout,
            max_side=options.max_side, progress=progress, retry_refused=options.retry_refused,
            retry_truncated=options.retry_truncated, grace=options.grace,
        )

    def describe_batches(self) -> pd.DataFrame:
        """The provider batches this study submitted (``semclust describe --status``)."""
        from semclust.core.store.batches import batches_frame

        return batches_frame(self.store)

    async def adescribe(self, describer: str, prompt: str = "connotative",
                        options: DescribeOptions | None = None, progress: bool = True, dry_run: bool = False):
        """:meth:`describe` for ``await`` (a notebook's loop stays free while the images are described)."""
        return await asyncio.to_thread(self.describe, describer, prompt, options, progress, dry_run)

    def _describe_new_items(self, progress: bool) -> None:
        """Describe items added since the last ``describe`` with the same describer, prompt and options."""
        raw = self.store.get_state("describe_call")
        source = self.store.get_state("description_source")
        if raw is None or source is None or json.loads(source)["describer"].startswith(COLUMN_PREFIX):
            return
        call = json.loads(raw)
        self.describe(call["describer"], call["prompt"], DescribeOptions.from_dict(call["options"]), progress)

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
        _, records = self._stored_records(items, source)
        text_by_sha = {sha: record.text for sha, record in records.items() if record.status == "ok"}
        values = items["sha256"].map(text_by_sha).where(items["status"] == "ok")
        return pd.Series(values.to_numpy(), index=items["id"], name="description", dtype="string")

    def _stored_records(self, items: pd.DataFrame, source: DescriptionSource) -> tuple[pd.DataFrame, dict]:
        """The readable items, and the stored record of each of their images by sha256 (one bulk read)."""
        usable = items[(items["status"] == "ok") & items["sha256"].notna()]
        keys = {sha: source.key(sha) for sha in usable["sha256"].unique()}
        found = self.store.get_many(list(keys.values()))
        return usable, {sha: found[key] for sha, key in keys.items() if key in found}

    def description_failures(self, source: DescriptionSource | None = None) -> pd.Series:
        """Why an item has no description (ingest error, refusal, API failure, empty column)."""
        source = source or self.description_source()
        items = self.items().set_index("id")
        reasons = pd.Series("no description", index=items.index, dtype="string")
        reasons[items["status"] != "ok"] = "unreadable image: " + items["error"].fillna("")
        if source.column is None:
            usable, records = self._stored_records(items, source)
            failed = {sha: f"{record.status}: {record.error or ''}".strip() for sha, record in records.items()
                      if record.status != "ok"}
            why = usable["sha256"].map(failed).dropna()
            reasons[why.index] = why
        return reasons

    def truncated_descriptions(self, source: DescriptionSource | None = None) -> pd.Index:
        """Ids of items whose description was cut off at the token limit (finish_reason "length")."""
        source = source or self.description_source()
        if source.column is not None:
            return pd.Index([], name="id")
        items = self.items()
        usable, records = self._stored_records(items, source)
        cut = {sha for sha, record in records.items() if record.truncated}
        return pd.Index(usable.loc[usable["sha256"].isin(cut), "id"], name="id")

    # --- embed ------------------------------------------------------------
    def embed_texts(self, texts: list[str], embedder: str, progress: bool = True, backend=None) -> np.ndarray:
        """Embed ``texts``, reusing cached vectors keyed by (embedder, text hash).

        ``backend`` overrides the object built from the ``embedder`` name (CLIP's text tower),
        the name still being the cache key.
        """
        if backend is None:
            backend = create_text_embedder(embedder, **({"progress": progress} if embedder.startswith("st") else {}))
        if getattr(backend, "corpus_dependent", False):
            return backend.embed_texts(texts)
        hashes = pd.Index([text_hash(t) for t in texts])
        found, matrix = self.store.get_matrix("text_embeddings", embedder, hashes)
        missing = hashes[~found].unique()
        if len(missing):
            first_text = dict(zip(hashes, texts, strict=True))
            vectors = self._embed_and_store(backend, embedder, list(missing), [first_text[h] for h in missing])
            if found.any() and matrix.shape[1] != vectors.shape[1]:
                raise SemclustError(f"{embedder}: cached vectors have {matrix.shape[1]} dimensions, new ones "
                                    f"{vectors.shape[1]}")
            if not found.any():
                matrix = np.zeros((len(hashes), vectors.shape[1]), dtype=np.float32)
            rows = missing.get_indexer(hashes[~found])
            matrix[~found] = vectors[rows]
        log.info("embedded %d texts (%d new)", len(texts), len(missing))
        return matrix

    def _embed_and_store(self, backend, embedder: str, keys: list[str], texts: list[str]) -> np.ndarray:
        """Embed and cache ``texts``; a backend that yields batches (a paid API) has each batch
        stored the moment it arrives, so a failure late in a long run loses only the batch in flight."""
        if not hasattr(backend, "iter_batches"):
            vectors = np.asarray(backend.embed_texts(texts), dtype=np.float32)
            self.store.put_vectors("text_embeddings", embedder, keys, vectors)
            return vectors
        parts = []
        for start, batch in backend.iter_batches(texts):
            self.store.put_vectors("text_embeddings", embedder, keys[start : start + len(batch)], batch)
            parts.append(np.asarray(batch, dtype=np.float32))
        return np.vstack(parts)

    def image_embedder(self, spec: str, weights: str | None = None):
        """The image backend for ``spec`` (built once per study object: loading weights is slow)."""
        from semclust.stages.image_embed import image_embedders

        cache = self.__dict__.setdefault("_image_embedders", {})
        if (spec, weights) not in cache:
            cache[(spec, weights)] = image_embedders.create(spec, **({"weights": weights} if weights else {}))
        return cache[(spec, weights)]

    def embed_images(self, spec: str, weights: str | None = None,
                     progress: bool = True) -> tuple[pd.Index, np.ndarray]:
        """Embed every usable image once per distinct file; returns (item ids, matrix)."""
        from semclust.stages.image_embed import embed_paths

        items = self.items()
        usable = items[(items["status"] == "ok") & items["sha256"].notna()]
        if usable.empty:
            raise SemclustError("the study has no readable images")
        backend = self.image_embedder(spec, weights)
        cached = self.store.get_vectors("image_embeddings", backend.name, usable["sha256"].tolist())
        todo = usable[~usable["sha256"].isin(cached)].drop_duplicates("sha256")
        if len(todo):
            vectors = embed_paths(backend, todo["image"].tolist(), progress=progress)
            self.store.put_vectors("image_embeddings", backend.name, todo["sha256"].tolist(), vectors)
            cached.update(zip(todo["sha256"], vectors, strict=True))
        log.info("embedded %d images with %s (%d new)", len(usable), backend.name, len(todo))
        return pd.Index(usable["id"]), np.vstack([cached[s] for s in usable["sha256"]]).astype(np.float32)

    def joint_texts(self, column: str | None = None) -> pd.Series:
        """Post text for the joint routes: an input column, or the descriptions when none is named."""
        if column is None:
            return self.descriptions()
        items = self.items()
        if column not in items.columns:
            raise SemclustError(f"the input has no column {column!r} (columns: {', '.join(items.columns)})")
        texts = items[column].astype("string").str.strip()
        return pd.Series(texts.where(texts != "", pd.NA).to_numpy(), index=items["id"], dtype="string")

    def embed(self, embedder: str = "st:all-MiniLM-L6-v2", progress: bool = True, *, engine: str = "local",
              engine_address: str | None = None) -> tuple[pd.Index, np.ndarray]:
        """Embed every available description; returns (item ids, matrix).

        ``engine="ray"`` embeds on a Ray cluster at ``engine_address`` as a run's ``--engine ray``
        does (same vectors, same cache).
        """
        from semclust.study.routes import text_features

        config = RunConfig(embedder=embedder, engine=engine, engine_address=engine_address)
        return text_features(self, config, progress)

    async def aembed(self, embedder: str = "st:all-MiniLM-L6-v2", progress: bool = True, *, engine: str = "local",
                     engine_address: str | None = None) -> tuple[pd.Index, np.ndarray]:
        """:meth:`embed` for ``await``."""
        return await asyncio.to_thread(self.embed, embedder, progress, engine=engine, engine_address=engine_address)

    # --- cluster, label, report -------------------------------------------
    def run(self, config: RunConfig, *, reducer=None, clusterer=None, progress: bool = True):
        """Embed, reduce, cluster, label and report the current descriptions as a new run."""
        from semclust.study.pipeline import execute_run

        run = execute_run(self, config, reducer=reducer, clusterer=clusterer, progress=progress)
        run.study = self
        return run

    def cluster(self, config: RunConfig | None = None, *, reducer=None, clusterer=None, progress: bool = True,
                **settings):
        """A new run from a :class:`RunConfig` and/or its settings as keywords (checked by name).

        ``reducer``/``clusterer`` are names (``"umap:10:15"``) or scikit-learn-style estimators.

        >>> run = study.cluster(clusterer="kmeans:12", seed=1)   # doctest: +SKIP
        """
        for name, value in (("reducer", reducer), ("clusterer", clusterer)):
            if isinstance(value, str):
                settings[name] = value
        reducer = None if isinstance(reducer, str) else reducer
        clusterer = None if isinstance(clusterer, str) else clusterer
        if settings or config is None:
            config = RunConfig.from_dict((config.to_dict() if config else {}) | settings)
        return self.run(config, reducer=reducer, clusterer=clusterer, progress=progress)

    def load_run(self, run_id: str = "latest"):
        """A run of this study (``latest`` = the newest), ready to ``show`` and ``transform``."""
        from semclust.study.runs import Run

        run = Run.load(self.folder, run_id)
        run.study = self
        return run

    def transform(self, run, data, *, image: str | None = None, id: str | None = None,
                  progress: bool = True) -> pd.DataFrame:
        """Add ``data``'s items to the study and assign them to ``run``'s clusters without re-fitting.

        Returns one row per new item: ``cluster`` (-1 = outlier), ``probability``,
        ``far_from_clusters``, ``fitted`` (False: assigned), ``description``, ``note`` and the
        input's columns; ``result.attrs["drift"]`` holds the shares of new items that land as
        outliers or far from every cluster (a warning is logged when they are high).
        """
        from semclust.study.transform import check_transformable, transform_items

        check_transformable(run)
        table = self.as_table(data, image=image, id=id)
        self.ingest(table, progress=progress)
        ids = pd.Index(table["id"].astype(str))
        self._describe_new_items(progress)
        recorded = run.config.get("source")
        if recorded and recorded != self.description_source().__dict__:
            raise SemclustError(f"the study's descriptions now come from {self.description_source().describer!r}, "
                                f"not from the run's ({recorded['describer']!r}); describe with the run's describer first")
        return transform_items(self, run, ids, progress)
