"""Words every vision-LLM description uses; they say nothing about a cluster's theme.

The paper removed terms "not providing topic-specific meanings, such as *conveys*
and *suggests*".  Users extend the list per study (``--stopwords FILE``).
"""

from __future__ import annotations

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

DESCRIPTION_WORDS = frozenset(
    """
    image images picture pictures photo photograph photographs depicts depict depicted depicting
    shows show showing shown features feature featuring displays display displayed
    conveys convey conveyed conveying suggests suggest suggesting suggested evokes evoke evoking
    overall appears appear appearing seems seem possibly likely perhaps
    meaning connotative connotation connotations denotative represents represent representing
    scene visual visually viewer viewers sense creates create creating highlights highlight
    emphasizes emphasize emphasizing captures capture capturing setting background foreground
    paragraph describe description object objects
    """.split()
)


def description_stop_words(extra: set[str] | frozenset[str] = frozenset()) -> frozenset[str]:
    """English stop words + description boilerplate + the user's own words (lower-cased)."""
    return frozenset(ENGLISH_STOP_WORDS) | DESCRIPTION_WORDS | {w.lower() for w in extra}
