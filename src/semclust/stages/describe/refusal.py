"""Recognising a refusal that arrives as an ordinary answer.

Providers signal some refusals explicitly (OpenAI's ``refusal`` field and
``finish_reason="content_filter"``; the backends raise :class:`RefusalError` for those).
Many models, local ones especially, instead answer "I'm sorry, but I can't assist with
that." as if it were a description. Embedding such texts would create a spurious
"refusals" cluster, so they are stored as ``refused`` (text kept) instead.

An answer counts as a refusal only when it is one **as a whole**: a description may
quote a sign ("I cannot see a future without action, the sign says.") or open with
"Unfortunately, we cannot ignore the melting ice...", and those are descriptions. The
answer is split into sentences; it is a refusal when

- at least one sentence declines the task: an optional "I'm sorry / Sorry / I apologize /
  Unfortunately / As an AI ..." then "I can't / cannot / am unable to / am not able to /
  won't" + a task verb (help, assist, describe, provide, analyze, identify, comply,
  process, fulfil, interpret, discuss, view, see, support, access, recognize, determine)
  whose object names the task (this, that, it, the image/picture/photo, request, people,
  individuals, faces, content, ...) or is left out ("I can't help.");
- every other sentence is boilerplate around a refusal: an apology, an offer ("If you
  have another image...", "Let me know...", "Feel free to ask", "Is there anything else"),
  a thank-you;
- and it is short (at most :data:`MAX_REFUSAL_WORDS` words).

Anything with a sentence of its own content ("However, the image shows a red car.") is
a (partial) description and is kept as ``ok``. Matching is case-insensitive with curly
apostrophes read as straight ones.
"""

from __future__ import annotations

import re

#: A longer answer has room for a description, so it is never taken for a refusal.
MAX_REFUSAL_WORDS = 80

_PREFIX = (
    r"(?:(?:i'?m|i am)\s+(?:very\s+|so\s+|truly\s+)?sorry|sorry|i apologi[sz]e|unfortunately"
    r"|as an ai(?:\s+\w+){0,4}?|regrettably)[,;:.!]?\s+(?:but\s+|however,?\s+)?"
)
_I_CANNOT = (
    r"i(?:'m| am)?\s+(?:can'?t|cannot|can not|unable to|not able to|won'?t|will not"
    r"|do not have the ability to|don'?t have the ability to)"
)
_VERBS = (
    r"(?:help|assist|describe|provide|analy[sz]e|identify|comply|process|fulfil+|interpret"
    r"|discuss|view|see|support|access|recogni[sz]e|determine|give|offer|make out|open)"
)
_TASK_NOUN = (
    r"(?:images?|pictures?|photos?|photographs?|requests?|people|persons?|individuals?|faces?"
    r"|content|files?|attachments?|visuals?|descriptions?|details|specifics|analys[ie]s"
    r"|identit(?:y|ies))"
)
_DECLINE_START = rf"^(?:{_PREFIX})?{_I_CANNOT}\s+(?:\w+ly\s+)?{_VERBS}\b"
#: "I can't describe people in images", "I'm unable to view the attached photo"
_DECLINE_NOUN = re.compile(rf"{_DECLINE_START}[^.!?]{{0,60}}?\b{_TASK_NOUN}\b", re.IGNORECASE)
#: "I can't help.", "Sorry, I can't assist with that.", "I cannot do this."
_DECLINE_BARE = re.compile(
    rf"{_DECLINE_START}(?:\s+(?:you\s+)?(?:with\s+)?(?:that|this|it|those|these))?"
    rf"(?:\s+(?:for you|right now|here|at this time|at the moment))?\s*[.!?]*$",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"^(?:(?:i'?m|i am)\s+(?:very\s+|so\s+|truly\s+)?sorry|sorry|i apologi[sz]e|my apologies"
    r"|if you\b[^.!?]*\b(?:help|assist|ask|provide|share|describe|upload|question|let me know|happy)"
    r"|let me know|feel free|please (?:let|feel|provide"
    r"|share|upload|send|try)|is there anything|thank you|thanks|how (?:else )?can i"
    r"|(?:but |however,? )?i(?:'d| would)? (?:be happy|be glad)|(?:but |however,? )?i(?:'m| am) "
    r"(?:here|happy|glad)|(?:but |however,? )?i can (?:help|assist) (?:with|you with) "
    r"(?:other|another|something|anything|different)|i hope)",
    re.IGNORECASE,
)

#: "..., but I can describe the scene: ..." turns a refusal into a partial description.
_CONTRAST = re.compile(r"\b(?:but|however|though|although|that said|instead)\b,?\s*", re.IGNORECASE)


def _normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _declines(sentence: str) -> bool:
    """The sentence declines the task and goes on to nothing but boilerplate."""
    match = _DECLINE_NOUN.search(sentence) or _DECLINE_BARE.search(sentence)
    if match is None:
        return False
    contrast = _CONTRAST.search(sentence, match.end())
    return contrast is None or bool(_BOILERPLATE.search(sentence[contrast.end():].strip()))


def detect_refusal(text: str) -> str | None:
    """``"model declined: <first declining sentence>"`` when the whole answer is a refusal, else ``None``."""
    text = _normalise(text)
    if not text or len(text.split()) > MAX_REFUSAL_WORDS:
        return None
    sentences = _sentences(text)
    declining = [s for s in sentences if _declines(s)]
    if not declining:
        return None
    if all(s in declining or _BOILERPLATE.search(s) for s in sentences):
        return f"model declined: {declining[0]}"
    return None
