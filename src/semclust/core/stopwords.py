"""Words every vision-LLM description uses; they say nothing about a cluster's theme.

The paper removed terms "not providing topic-specific meanings, such as *conveys*
and *suggests*", and its Table 1 still shows words such as *scene*, *overall*,
*possibly*, *likely* and *background*. So the list holds only the model's boilerplate:
words that name the picture or the description itself and the verbs of depicting and
conveying. Hedges, setting words and the like stay; users extend the list per study
(``--stopwords FILE``).
"""

from __future__ import annotations

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

DESCRIPTION_WORDS = frozenset(
    """
    image images picture pictures photo photos photograph photographs
    depicts depict depicted depicting shows show showing shown features feature featuring
    displays display displayed conveys convey conveyed conveying suggests suggest suggesting
    suggested evokes evoke evoking represents represent representing captures capture
    capturing highlights highlight emphasizes emphasize emphasizing
    meaning connotative connotation connotations denotative paragraph describe describes
    described description
    """.split()
)


def description_stop_words(extra: set[str] | frozenset[str] = frozenset()) -> frozenset[str]:
    """English stop words + description boilerplate + the user's own words (lower-cased)."""
    return frozenset(ENGLISH_STOP_WORDS) | DESCRIPTION_WORDS | {w.lower() for w in extra}
