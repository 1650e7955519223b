"""Prompts for the describer: named presets, or the user's own text file.

The exact prompt text is part of every description's cache key, so editing a prompt
file re-describes the images (with the new wording) rather than mixing old and new.
"""

from __future__ import annotations

from pathlib import Path

from semclust.stages.describe.errors import DescriberConfigError

PRESETS: dict[str, str] = {
    # Arminio et al. (2024), section 3, verbatim (no final full stop in the paper either).
    "connotative": "Describe the connotative meaning of this image, in one paragraph",
    # Its counterpart for shape/content clustering: what is there, not what it means.
    "denotative": (
        "Describe what is visible in this image (people, objects, written text, setting "
        "and actions) without interpreting what it means, in one paragraph"
    ),
}

DEFAULT_PROMPT = "connotative"


def resolve_prompt(value: str | Path) -> str:
    """The prompt text for a preset name (see :data:`PRESETS`) or a UTF-8 text file's path."""
    if isinstance(value, str) and value in PRESETS:
        return PRESETS[value]
    path = Path(value).expanduser()
    if not path.is_file():
        raise DescriberConfigError(
            f"prompt {str(value)!r} is neither a preset ({', '.join(PRESETS)}) nor a text file"
        )
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriberConfigError(f"cannot read prompt file {str(path)!r}: {exc}") from exc
    if not text:
        raise DescriberConfigError(f"prompt file {str(path)!r} is empty")
    return text
