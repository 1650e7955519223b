"""Exploring and refining a run: the ``semclust explore`` app, edits, names, exports.

>>> from semclust import Study
>>> from semclust.exploration import refine_run, replay_run, export_run
>>> study = Study("climate-study")                                         # doctest: +SKIP
>>> run = refine_run(study, "latest", [{"op": "merge", "clusters": [3, 7]},
...                                    {"op": "name", "cluster": 3, "name": "Protest signs"}])  # doctest: +SKIP
>>> export_run(run, "out/", ["folders", "tables"])                        # doctest: +SKIP

The app itself: ``semclust.exploration.app.create_app(study_folder, run_id)``.
"""

from __future__ import annotations

from semclust.exploration.edits import (
    OPS,
    Clustering,
    EditError,
    apply_edits,
    describe_edit,
    parse_cli_edits,
)
from semclust.exploration.export import FORMATS, export_run
from semclust.exploration.namer import NamerOptions, name_clusters
from semclust.exploration.refine import cluster_names, refine_run, replay_run, same_clusters

__all__ = [
    "FORMATS",
    "OPS",
    "Clustering",
    "EditError",
    "NamerOptions",
    "apply_edits",
    "cluster_names",
    "describe_edit",
    "export_run",
    "name_clusters",
    "parse_cli_edits",
    "refine_run",
    "replay_run",
    "same_clusters",
]
