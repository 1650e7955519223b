"""A language model checks each coded item against its code's definition (zero-shot), the
optional second opinion on a codebook-seeded run.

It asks through the cluster namer's machinery (:mod:`semclust.exploration.namer`: the
describers' ``openai:``/``ollama:`` backends, their retry policy, answers cached in the study
under ``namer:<backend>`` and the prompt's hash), so an item asked about once is never paid for
again: a run stopped by Ctrl-C or by the budget resumes where it stopped. Cost is estimated like
``describe`` (:mod:`semclust.stages.describe.cost`: the price table, about four characters a
token, no image), ``dry_run`` says what would be sent and what it would cost, and ``budget``
stops sending before the estimate passes it. The answers go to ``code_check.csv`` in the run's
folder: ``id``, ``code``, ``code_similarity``, ``fits`` (True/False, empty when not asked or
unreadable) and ``reason``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass

import pandas as pd

from semclust.core.errors import SemclustError
from semclust.core.event_loop import run_sync
from semclust.core.store.records import DescriptionRecord
from semclust.exploration.namer import _ask, _key  # the namer's request and cache key, shared
from semclust.stages.describe import create_describer
from semclust.stages.describe.cost import REQUEST_OVERHEAD_TOKENS, Budget, load_prices, price_for

log = logging.getLogger(__name__)

PROMPT = """You check whether a social-media image fits a code of a researcher's codebook.
The image was described by a vision model.

Code: {name}
Definition: {definition}

Description of the image: {description}

Answer with JSON only: {{"fits": true or false, "reason": "<one sentence>"}}"""
MAX_DESCRIPTION_CHARS = 1500
#: Tokens assumed for an answer ({"fits": ..., "reason": one sentence}).
ANSWER_TOKENS = 40
CHECK_FILE = "code_check.csv"


@dataclass(frozen=True)
class CheckOptions:
    base_url: str | None = None
    dry_run: bool = False
    budget: float | None = None  # USD; None = no limit
    prices: str | None = None  # a TOML file of extra prices
    max_retries: int = 5
    timeout: float = 120.0
    base_delay: float = 1.0


@dataclass(frozen=True)
class CheckPlan:
    """What a check would send: items, how many are cached, the estimated tokens and cost."""

    n_items: int
    n_cached: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # None: the model's price is unknown (a local model costs 0)

    def in_words(self) -> str:
        cost = "unknown (no price for this model)" if self.cost is None else f"about ${self.cost:.4f}"
        return (f"{self.n_items} coded items: {self.n_cached} answered before (cached), "
                f"{self.n_items - self.n_cached} to ask; about {self.prompt_tokens:,} prompt and "
                f"{self.completion_tokens:,} answer tokens; cost {cost}")


def check_prompts(run) -> dict[str, tuple[str, str]]:
    """``{item id: (code, prompt)}`` for every item of a seeded run that has a code."""
    record = run.config.get("codebook")
    if not record:
        raise SemclustError(f"run {run.id} was not seeded with a codebook (semclust cluster --codebook F)")
    definitions = {c["name"]: c["definition"] for c in record["codes"]}
    coded = run.assignments[run.assignments["code"].fillna("") != ""]
    return {str(r.id): (r.code, PROMPT.format(name=r.code, definition=definitions[r.code] or "(none given)",
                                              description=str(r.description)[:MAX_DESCRIPTION_CHARS]))
            for r in coded.itertuples()}


def parse_check(text: str) -> tuple[bool | None, str]:
    """``(fits, reason)`` from an answer; ``fits`` is None when the answer says neither."""
    match = re.search(r"\{.*\}", text, flags=re.DOTALL)
    if match:
        try:
            data = json.loads(match.group(0))
            if isinstance(data, dict) and isinstance(data.get("fits"), bool):
                return data["fits"], " ".join(str(data.get("reason", "")).split())
        except json.JSONDecodeError:
            pass
    first = text.strip().lower()
    if first.startswith(("yes", "true")):
        return True, text.strip()
    if first.startswith(("no", "false")):
        return False, text.strip()
    return None, " ".join(text.split())


def check_codes(cache, run, checker: str, options: CheckOptions | None = None) -> tuple[CheckPlan, pd.DataFrame | None]:
    """The plan, and (unless ``dry_run``) the table written to ``code_check.csv`` (module docstring)."""
    options = options or CheckOptions()
    prompts = check_prompts(run)
    backend = create_describer(checker, **({"base_url": options.base_url} if options.base_url else {}))
    if not hasattr(backend, "complete_text"):
        raise SemclustError(f"--checker must be openai:MODEL or ollama:MODEL, got {backend.name}:{backend.model}")
    keys = {item: _key(backend, prompt) for item, (_, prompt) in prompts.items()}
    stored = cache.get_many(list(keys.values()))
    answers = {i: stored[k].text for i, k in keys.items() if k in stored and stored[k].status == "ok"}
    price = price_for(backend.name, backend.model, load_prices(options.prices))
    todo = [i for i in prompts if i not in answers]
    prompt_tokens = sum(math.ceil(len(prompts[i][1]) / 4) + REQUEST_OVERHEAD_TOKENS for i in todo)
    completion_tokens = ANSWER_TOKENS * len(todo)
    cost = None if price is None else price.cost(prompt_tokens, completion_tokens)
    plan = CheckPlan(len(prompts), len(answers), prompt_tokens, completion_tokens, cost)
    if options.dry_run:
        return plan, None
    per_item = 0.0 if price is None or not todo else cost / len(todo)
    budget = Budget(options.budget, price, per_item)
    answers |= run_sync(_ask_within(backend, {i: prompts[i][1] for i in todo}, keys, cache, budget, options))
    if budget.exhausted:
        log.warning("the budget of $%.2f is spent: %d items not checked; run again with a larger --budget "
                    "to check the rest (answers so far are kept)", options.budget, len(prompts) - len(answers))
    rows = run.assignments.assign(id=run.assignments["id"].astype(str)).set_index("id")
    table = pd.DataFrame({"id": list(prompts), "code": [c for c, _ in prompts.values()],
                          "code_similarity": rows.loc[list(prompts), "code_similarity"].to_numpy()})
    parsed = [parse_check(answers[i]) if i in answers else (None, "") for i in prompts]
    table["fits"] = pd.array([p[0] for p in parsed], dtype="boolean")
    table["reason"] = [p[1] for p in parsed]
    table.to_csv(run.folder / CHECK_FILE, index=False)
    return plan, table


async def _ask_within(backend, prompts: dict[str, str], keys, cache, budget: Budget, options) -> dict[str, str]:
    """Ask for each prompt in turn while the budget allows; each answer is stored as it arrives."""
    answers: dict[str, str] = {}
    if not prompts:
        return answers
    await backend.open(1)
    try:
        for item, prompt in prompts.items():
            if not budget.reserve():
                break
            text = await _ask(backend, prompt, options)
            record = DescriptionRecord(keys[item], "ok", text=text)
            cache.put(record)
            budget.settle(record)
            answers[item] = text
    finally:
        await backend.aclose()
    return answers
