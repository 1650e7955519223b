"""Recognising a refusal that arrives as an ordinary answer.

Providers signal some refusals explicitly (OpenAI's ``refusal`` field and
``finish_reason="content_filter"``; the backends raise :class:`RefusalError` for those).
Many models, local ones especially, instead answer "I'm sorry, but I can't assist with
that." as if it were a description. Embedding such texts would create a spurious
"refusals" cluster, so they are stored as ``refused`` instead.

The heuristic is deliberately narrow: a pattern must match at the very start of the
answer, because a genuine description may quote a meme that says "I can't help it".
The patterns (case-insensitive, curly apostrophes treated as straight ones):

- "I'm sorry / I am sorry / Sorry / I apologize / Unfortunately ..." followed, within the
  first sentence, by "I (or we) can't / cannot / am unable / am not able / won't";
- "I can't / I cannot / I won't / I'm unable to / I am not able to" + (one word) + help,
  assist, describe, provide, analyze, identify, comply, process, fulfil, interpret,
  discuss, view, see, support;
- "As an AI ..." followed, within the first sentence, by "I can't / cannot / am unable".
"""

from __future__ import annotations

import re

_I_CANNOT = (
    r"(?:i|we)(?:'m|'re| am| are)?\s+(?:can'?t|cannot|can not|unable|not able|won'?t|will not)"
)
_VERBS = (
    r"(?:help|assist|describe|provide|analy[sz]e|identify|comply|process|fulfil+|interpret"
    r"|discuss|view|see|support)"
)
_SENTENCE = r"[^.!?\n]{0,120}?"

REFUSAL_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"^(?:i'?m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately)\b{_SENTENCE}\b{_I_CANNOT}",
        rf"^{_I_CANNOT}(?: to)?\s+(?:\w+\s+)?{_VERBS}\b",
        rf"^as an ai\b{_SENTENCE}\b{_I_CANNOT}",
    )
)


def detect_refusal(text: str) -> str | None:
    """The refusal's first sentence when ``text`` opens like a refusal, else ``None``."""
    opening = text.strip().replace("\u2019", "'").replace("\u2018", "'")[:300]
    if any(pattern.search(opening) for pattern in REFUSAL_PATTERNS):
        first_sentence = re.split(r"(?<=[.!?])\s", opening, maxsplit=1)[0]
        return f"model declined: {first_sentence}"
    return None
