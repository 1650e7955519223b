"""Check every backend name a command was given before any work starts.

A typo in ``--clusterer hdbscan:abc`` used to surface after ingest and embedding, a minute in;
these checks read the names and their arguments only (each registry's :meth:`check`: nothing is
built, no model loaded, no request sent), so a bad one fails in the first second with the
list of valid names and the nearest one.
"""

from __future__ import annotations

import difflib

from semclust.core.errors import SemclustError
from semclust.study.config import RunConfig

#: Routes that embed the descriptions, and those that embed the pixels.
TEXT_ROUTES = ("text", "concat", "labels")
IMAGE_ROUTES = ("image", "concat", "labels")


def check_describer(describer: str, prompt: str | None = None) -> None:
    """The describer's name and arguments, and the prompt (a preset or a readable file) it will use."""
    from semclust.stages.describe import describers
    from semclust.stages.describe.prompts import resolve_prompt

    describers.check(describer)
    if describer.startswith("column:") and not describer[len("column:"):].strip():
        raise SemclustError("describer 'column:' needs a column name, e.g. 'column:alt_text'")
    if prompt is not None and not describer.startswith(("column:", "none")):
        resolve_prompt(prompt)


def check_input_column(describer: str, columns: list[str]) -> None:
    """``column:NAME`` names one of ``columns`` (the input's own: never semclust's sha256, status, error)."""
    column = describer[len("column:"):]
    if column in columns:
        return
    close = difflib.get_close_matches(column, columns, n=1)
    hint = f" (did you mean 'column:{close[0]}'?)" if close else ""
    raise SemclustError(f"describer {describer!r}: the input has no column {column!r}{hint}; "
                        f"its columns: {', '.join(columns) or 'none'}")


def check_embedder(embedder: str) -> None:
    from semclust.stages.embed import text_embedders

    text_embedders.check(embedder)


def check_run_config(config: RunConfig) -> None:
    """Every name ``config`` holds that its route will use: describer and prompt (when set),
    text and image embedders, reducer and clusterer (the preset fills those left unset)."""
    from semclust.stages.cluster import clusterers
    from semclust.stages.image_embed import image_embedders
    from semclust.stages.reduce import reducers

    if config.describer is not None:
        check_describer(config.describer, config.prompt)
    if config.route in TEXT_ROUTES:
        check_embedder(config.embedder)
    if config.route in IMAGE_ROUTES or config.route == "clip":
        image_embedders.check(config.image_embedder)
    if config.route == "clip" and not config.image_embedder.startswith("clip:"):
        raise SemclustError(f"the clip route needs a clip: image embedder, got {config.image_embedder!r}")
    if config.reducer is not None:
        reducers.check(config.reducer)
    if config.clusterer is not None:
        clusterers.check(config.clusterer)


def check_run(config: RunConfig, source) -> None:
    """What ``semclust run SOURCE`` checks before ingesting: every name of ``config``, that an input
    file has rows, and, for a ``column:NAME`` describer, that its header has that column."""
    check_run_config(config)
    from semclust.core.input_header import input_columns

    columns = input_columns(source)
    if columns is not None and config.describer and config.describer.startswith("column:"):
        check_input_column(config.describer, columns)
