"""Refined runs: a parent run plus a list of edits gives a new run, replayable from the root.

Every refinement writes a new run folder whose ``config.json`` keeps the parent's
settings and adds ``parent_run``, ``root_run`` (the run that came out of the
clusterer), ``edits`` (this step's) and ``edits_from_root`` (every edit since the
root), so :func:`replay_run` can rebuild any published clustering from the raw run.
Keywords, exemplars and the report are recomputed; undo is "go back to the parent".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.exploration.edits import OUTLIER, Clustering, apply_edits, check_edit
from semclust.study.pipeline import exemplar_flags, label_run, report_run, summary_metrics
from semclust.study.runs import Run, mark_latest, new_run_folder, package_versions

log = logging.getLogger(__name__)

NAME_COLUMNS = ("name", "summary")


def clustering_of(run: Run) -> Clustering:
    """The run's clustered items with their labels, strengths, reduced vectors and names."""
    rows = run.clustered()
    if run.reduced is None or len(run.reduced) != len(rows):
        raise SemclustError(f"run {run.id} has no reduced.npy matching its {len(rows)} clustered items; "
                            "refine needs the space the run clustered in")
    probability = pd.to_numeric(rows["probability"], errors="coerce").to_numpy(dtype=float)
    return Clustering([str(i) for i in rows["id"]], rows["cluster"].astype(int).to_numpy(),
                      probability, np.asarray(run.reduced), cluster_names(run))


def cluster_names(run: Run) -> dict[int, dict[str, str]]:
    """``{cluster: {"name": ..., "summary": ...}}`` from the run's clusters table (empty ones left out)."""
    if run.clusters is None or "name" not in run.clusters.columns:
        return {}
    names = {}
    for row in run.clusters.to_dict("records"):
        entry = {k: str(row[k]) for k in NAME_COLUMNS if k in row and isinstance(row[k], str) and row[k]}
        if entry and int(row["cluster"]) != OUTLIER:
            names[int(row["cluster"])] = entry
    return names


@dataclass
class Lineage:
    """Where a run comes from: its root run and every edit since."""

    root: str
    edits: list[dict]


def lineage(run: Run) -> Lineage:
    return Lineage(run.config.get("root_run", run.id), list(run.config.get("edits_from_root", [])))


def refine_run(study, run: Run | str, edits: list[dict], *, report: bool = True) -> Run:
    """A new run: ``run`` with ``edits`` applied; returns it (the study's LATEST points to it)."""
    parent = run if isinstance(run, Run) else Run.load(study.folder, run)
    edits = [check_edit(e) for e in edits]
    if not edits:
        raise SemclustError("no edits given: name, merge, split, move, drop or outliers")
    state = apply_edits(clustering_of(parent), edits, seed=int(parent.config.get("seed", 0)),
                        base_clusterer=parent.config.get("clusterer"))
    history = lineage(parent)
    config = {k: v for k, v in parent.config.items()
              if k not in ("parent_run", "root_run", "edits", "edits_from_root")}
    config.update(parent_run=parent.id, root_run=history.root, edits=edits,
                  edits_from_root=history.edits + edits)
    return _write_run(study, parent, state, config, report)


def replay_run(study, run_id: str, *, report: bool = True) -> tuple[Run, bool]:
    """Rebuild ``run_id`` from its root run and its recorded edits; True when the clusters match."""
    target = Run.load(study.folder, run_id)
    history = lineage(target)
    if not history.edits:
        raise SemclustError(f"run {target.id} has no edits to replay: it came from the clusterer")
    root = Run.load(study.folder, history.root)
    replayed = refine_run(study, root, history.edits, report=report)
    return replayed, same_clusters(replayed, target)


def same_clusters(a: Run, b: Run) -> bool:
    """Same items with the same cluster numbers and names."""
    left = a.assignments.set_index("id")["cluster"].astype("Int64")
    right = b.assignments.set_index("id")["cluster"].astype("Int64")
    return left.sort_index().equals(right.sort_index()) and cluster_names(a) == cluster_names(b)


def _write_run(study, parent: Run, state: Clustering, config: dict, report: bool) -> Run:
    assignments = parent.assignments.copy()
    clustered = assignments["cluster"].notna().to_numpy()
    distance, exemplar = exemplar_flags(state.reduced, state.labels)
    assignments.loc[clustered, "cluster"] = state.labels
    assignments["cluster"] = assignments["cluster"].astype("Int64")
    assignments.loc[clustered, "probability"] = state.probability
    assignments.loc[clustered, "centroid_distance"] = distance
    assignments.loc[clustered, "exemplar"] = exemplar
    assignments = with_cluster_names(assignments, state.names)
    folder = new_run_folder(study.folder, config)
    metrics = summary_metrics(state.labels, len(assignments)) | {"edits": len(config["edits_from_root"])}
    run = Run(folder, config, assignments, coords=parent.coords, reduced=state.reduced, metrics=metrics)
    run.save()
    label_run(run)
    attach_names(run, state.names)
    if report:
        report_run(run)
    mark_latest(folder)
    study.store.put_run(run.id, config, config.get("seed"), package_versions(), "refined")
    log.info("run %s: %d edit(s) on %s", run.id, len(config["edits"]), parent.id)
    return run


def with_cluster_names(assignments: pd.DataFrame, names: dict[int, dict[str, str]]) -> pd.DataFrame:
    """``cluster_name`` right after ``cluster`` (empty where a cluster has no name)."""
    table = assignments.drop(columns=["cluster_name"], errors="ignore")
    values = [names.get(int(c), {}).get("name", "") if pd.notna(c) else "" for c in table["cluster"]]
    table.insert(table.columns.get_loc("cluster") + 1, "cluster_name", values)
    return table


def attach_names(run: Run, names: dict[int, dict[str, str]]) -> None:
    """Add ``name`` and ``summary`` columns to ``clusters.csv`` and save the run."""
    for column in NAME_COLUMNS:
        run.clusters[column] = [names.get(int(c), {}).get(column, "") for c in run.clusters["cluster"]]
    run.assignments = with_cluster_names(run.assignments, names)
    run.save()
