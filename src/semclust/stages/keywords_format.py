"""The one text form of cluster keywords, ``"term:score, term:score"``, as in clusters.csv.

It is the form of the paper's Table 1 ("bear:0.38, polar:0.24, ..."), readable in a
spreadsheet and by R or Stata. It lives apart from the report so that the label module
can write it without importing Jinja.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from semclust.core.errors import SemclustError

#: Decimals kept for each score in the text form.
SCORE_DECIMALS = 3

_ITEM_SEP = ", "


class KeywordFormatError(SemclustError, ValueError):
    """A keyword list cannot be written as, or read from, ``"term:score, ..."`` text."""


def render_keywords(keywords: Iterable[tuple[str, float]]) -> str:
    """Write ``[(term, score), ...]`` as ``"term:score, ..."`` with scores rounded to 3 decimals.

    Raises
    ------
    KeywordFormatError
        If a term is empty or contains a comma (it would split on reading back), or a score
        is not a finite number.
    """
    return _ITEM_SEP.join(_render_item(term, score) for term, score in keywords)


def _render_item(term: str, score: float) -> str:
    term = str(term).strip()
    if not term or "," in term:
        raise KeywordFormatError(
            f"keyword term {term!r} cannot be written: it must be non-empty and contain no comma"
        )
    try:
        value = float(score)
    except (TypeError, ValueError) as exc:
        raise KeywordFormatError(f"keyword {term!r} has a non-numeric score {score!r}") from exc
    if not math.isfinite(value):
        raise KeywordFormatError(f"keyword {term!r} has a non-finite score {score!r}")
    return f"{term}:{round(value, SCORE_DECIMALS)!r}"


def parse_keywords(text: str | None) -> list[tuple[str, float]]:
    """Read ``"term:score, ..."`` back into ``[(term, score), ...]``.

    An empty cell (``""``, ``None`` or the NaN pandas reads for one) means no keywords.
    Terms may contain colons; the score is what follows the last one.

    Raises
    ------
    KeywordFormatError
        Naming the item that has no ``:score`` or whose score is not a number.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    if not isinstance(text, str):
        raise KeywordFormatError(f"keywords must be text like 'term:0.41, ...', got {text!r}")
    if not text.strip():
        return []
    return [_parse_item(item) for item in text.split(",")]


def _parse_item(item: str) -> tuple[str, float]:
    term, sep, score = item.strip().rpartition(":")
    term = term.strip()
    try:
        value = float(score)
    except ValueError:
        value = math.nan
    if not sep or not term or not math.isfinite(value):
        raise KeywordFormatError(
            f"cannot read keyword {item.strip()!r}: expected 'term:score' with a finite number"
        )
    return term, value
