"""Cluster names and two-sentence summaries written by a language model (``--namer openai:MODEL``).

Keywords stay the paper's label; a name is an aid for reading. The namer talks to the
same backends as the describers (``openai:`` for any OpenAI-compatible server,
``ollama:``), built by :func:`semclust.stages.describe.create_describer`, so the key handling,
HTTP error mapping and ``Retry-After`` parsing are theirs; the retry schedule is the
runner's :class:`~semclust.stages.describe.runner.RetryPolicy`. Answers are cached in the
study's descriptions table under the describer name ``namer:<backend>`` and the prompt's
hash, so asking again for the same cluster costs nothing.

The result is a list of ``name`` edits (with ``by`` set to the namer), applied by
:func:`semclust.exploration.refine.refine_run` like any edit a person makes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass

import numpy as np

from semclust.core.errors import SemclustError
from semclust.core.event_loop import run_sync
from semclust.core.retry import MAX_RETRY_AFTER, RetryPolicy
from semclust.core.store import text_hash
from semclust.core.store.records import DescriptionKey, DescriptionRecord, canonical_params
from semclust.stages.describe import RetryableError, create_describer
from semclust.stages.describe.errors import RequestFailedError

log = logging.getLogger(__name__)

PROMPT = """You name clusters of social-media images for a researcher.
Each image was described by a vision model; below are the cluster's top keywords and the
descriptions of its most typical images.

Keywords: {keywords}

Descriptions:
{descriptions}

Answer with JSON only: {{"name": "<a short name of 2 to 5 words>", "summary": "<two sentences on what the images in this cluster show and mean>"}}"""
MAX_DESCRIPTION_CHARS = 600
MAX_NAME_CHARS = 80


@dataclass(frozen=True)
class NamerOptions:
    base_url: str | None = None
    exemplars: int = 8
    max_retries: int = 5
    timeout: float = 120.0
    base_delay: float = 1.0


def naming_prompt(keywords: list[tuple[str, float]], descriptions: list[str]) -> str:
    texts = "\n".join(f"- {d.strip()[:MAX_DESCRIPTION_CHARS]}" for d in descriptions if d and d.strip())
    return PROMPT.format(keywords=", ".join(t for t, _ in keywords[:10]) or "(none)",
                         descriptions=texts or "(none)")


def parse_name(text: str) -> tuple[str, str]:
    """``(name, summary)`` from the model's answer: JSON if there is any, else first line + rest."""
    match = re.search(r"\{.*\}", text, flags=re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
            if isinstance(data, dict) and str(data.get("name", "")).strip():
                return _clean(str(data["name"]))[:MAX_NAME_CHARS], _clean(str(data.get("summary", "")))
        except json.JSONDecodeError:
            pass
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise SemclustError("the namer answered with an empty text")
    name = re.sub(r"^(name\s*:\s*)", "", lines[0], flags=re.IGNORECASE)
    summary = re.sub(r"^(summary\s*:\s*)", "", " ".join(lines[1:]), flags=re.IGNORECASE)
    return _clean(name)[:MAX_NAME_CHARS], _clean(summary)


def _clean(text: str) -> str:
    return " ".join(text.replace("*", "").strip().strip('"').split())


def cluster_prompts(run, n_exemplars: int) -> dict[int, str]:
    """One prompt per cluster (outliers excluded) from its keywords and exemplars' descriptions."""
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no keywords yet: run `semclust label` first")
    rows = run.clustered()
    prompts = {}
    for row in run.clusters.to_dict("records"):
        cluster = int(row["cluster"])
        if cluster < 0:
            continue
        members = rows[rows["cluster"].astype(int) == cluster]
        nearest = members.sort_values("centroid_distance", kind="stable").head(n_exemplars)
        prompts[cluster] = naming_prompt(row["keywords"], nearest["description"].dropna().astype(str).tolist())
    return prompts


def name_clusters(cache, run, namer: str, options: NamerOptions | None = None) -> list[dict]:
    """``name`` edits for every cluster of ``run``, from ``namer`` (answers cached in ``cache``)."""
    options = options or NamerOptions()
    answers = answer_prompts(cache, namer, cluster_prompts(run, options.exemplars), options)
    edits = []
    for cluster, text in answers.items():
        name, summary = parse_name(text)
        edits.append({"op": "name", "cluster": cluster, "name": name, "summary": summary, "by": namer})
    return edits


def answer_prompts(cache, namer: str, prompts: dict, options: NamerOptions | None = None) -> dict:
    """The model's answer to each prompt (``{key: text}``); answers cached in ``cache``."""
    options = options or NamerOptions()
    backend = create_describer(namer, **({"base_url": options.base_url} if options.base_url else {}))
    if not hasattr(backend, "complete_text"):  # a text-only answer in the backend's own protocol
        raise SemclustError(f"--namer must be openai:MODEL or ollama:MODEL, got {backend.name}:{backend.model}")
    return run_sync(_ask_all(backend, prompts, cache, options))


async def _ask_all(backend, prompts: dict, cache, options: NamerOptions) -> dict:
    keys = {c: _key(backend, p) for c, p in prompts.items()}
    stored = cache.get_many(list(keys.values()))
    answers = {c: stored[k].text for c, k in keys.items() if k in stored and stored[k].status == "ok"}
    todo = [c for c in prompts if c not in answers]
    if todo:
        await backend.open(1)
        try:
            for cluster in todo:
                text = await _ask(backend, prompts[cluster], options)
                cache.put(DescriptionRecord(keys[cluster], "ok", text=text))
                answers[cluster] = text
        finally:
            await backend.aclose()
    log.info("named %d clusters (%d from the cache)", len(prompts), len(prompts) - len(todo))
    return dict(sorted(answers.items()))


def _key(backend, prompt: str) -> DescriptionKey:
    params = canonical_params(backend.generation_params())
    return DescriptionKey(text_hash(prompt), f"namer:{backend.name}", backend.model, prompt, params)


async def _ask(backend, prompt: str, options: NamerOptions) -> str:
    """One text-only chat request, retried on 429/5xx/timeouts like a description."""
    policy = RetryPolicy(options.max_retries, options.base_delay)
    for retry in range(options.max_retries + 1):
        try:
            async with asyncio.timeout(options.timeout):
                return await backend.complete_text(prompt)
        except TimeoutError:
            error: RetryableError = RetryableError(f"no answer within {options.timeout:g} s")
        except RetryableError as exc:
            error = exc
        delay = error.retry_after if error.retry_after is not None else policy.delay(retry)
        log.info("namer: retrying in %.1f s: %s", delay, error)
        if retry < options.max_retries:
            await asyncio.sleep(float(np.clip(delay, 0, MAX_RETRY_AFTER)))
    raise RequestFailedError(f"namer gave up after {options.max_retries + 1} attempts: {error}")
