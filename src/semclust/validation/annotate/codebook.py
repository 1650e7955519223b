"""A REFI-QDA codebook (``.qdc``, or the codebook of a ``.qdpx``) as the theme list of a coding task.

A team that already has a codebook in ATLAS.ti, NVivo, MAXQDA or QualCoder (or exported
one from a run with ``semclust export --format qdc``) offers its codes to the coders of a
consistency task instead of having them invent the wording. The codes are suggested, not
enforced: a coder may still type a theme the codebook lacks, as in open coding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from semclust.core.refi_qda import QdaCode, read_codebook
from semclust.validation.annotate.model import MAX_THEME_LENGTH, AnnotationError, TaskSpec


def codebook_themes(path: str | Path) -> list[str]:
    """Every code's name (sub-codes after their parent), whitespace collapsed, first spelling kept."""
    themes: list[str] = []
    for name in _names(read_codebook(path)):
        theme = " ".join(name.split())
        if len(theme) > MAX_THEME_LENGTH:
            raise AnnotationError(f"{Path(path).name}: the code {theme[:40]!r}... is longer than a "
                                  f"theme may be ({MAX_THEME_LENGTH} characters)")
        if theme.casefold() not in {t.casefold() for t in themes}:
            themes.append(theme)
    return themes


def _names(codes: list[QdaCode]) -> Iterable[str]:
    for code in codes:
        yield code.name
        yield from _names(code.children)


def with_themes(spec: TaskSpec, themes: list[str], source: str) -> TaskSpec:
    """``spec`` offering ``themes``; only a consistency task (coders type themes) takes them."""
    if spec.kind != "consistency":
        raise AnnotationError(f"a theme list is for a consistency task (coders type themes), "
                              f"and {source} is a {spec.kind} task")
    return dataclasses.replace(spec, settings={**spec.settings, "themes": themes})


def offered_themes(settings: dict, used: list[str]) -> list[str]:
    """The codebook's themes first, in its order, then the coder's own, most used first."""
    listed = list(settings.get("themes", []))
    known = {t.casefold() for t in listed}
    return listed + [t for t in used if t.casefold() not in known]
