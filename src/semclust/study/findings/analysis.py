"""``analyze``: every finding of a run in one call, from one seed, in a fixed order of draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.study.findings.clustering_noise import noise_table, sibling_labels
from semclust.study.findings.differences import share_differences, weighted_log_odds
from semclust.study.findings.inputs import MIN_GROUP_SIZE, codes, prepare
from semclust.study.findings.outcomes import MIN_CLUSTER_SIZE, effects_table
from semclust.study.findings.prevalence import count_matrix, share_table
from semclust.study.findings.result import AnalysisResult


def analyze_run(run, *, by: str | None = None, time: str | None = None, freq: str = "month",
                outcome: str | None = None, controls: list[str] | tuple[str, ...] = (),
                model: str = "negbin", outliers: str = "exclude", bootstrap: int = 1000, seed: int = 0,
                reference_group: str | None = None, reference_cluster: int | None = None,
                correction: str = "fdr_bh", min_group_size: int = MIN_GROUP_SIZE,
                min_cluster_size: int = MIN_CLUSTER_SIZE) -> AnalysisResult:
    """Prevalence (by group, over time), clustering noise, group differences, outcome effects."""
    if bootstrap < 100:
        raise SemclustError(f"bootstrap={bootstrap}: use at least 100 replicates (1000 for a paper)")
    controls = tuple(controls)
    settings = {"run": run.id, "by": by, "time": time, "freq": freq, "outcome": outcome,
                "controls": list(controls), "model": model, "outliers": outliers, "bootstrap": bootstrap,
                "seed": seed, "reference_group": reference_group, "reference_cluster": reference_cluster,
                "correction": correction, "min_group_size": min_group_size,
                "min_cluster_size": min_cluster_size}
    data = prepare(run.assignments, cluster_names(run.clusters), by=by, time=time, freq=freq,
                   outcome=outcome, controls=controls, outliers=outliers, min_group_size=min_group_size)
    rows, names = data.rows, data.names
    settings["n_items"] = len(rows)
    rng = np.random.default_rng(seed)
    keys = ["group"] if by else []
    prevalence = share_table(rows, keys, names)
    if by:
        prevalence["small_group"] = prevalence["group"].isin(data.small_groups)
    study_folder = run.folder.parent.parent if run.folder is not None else None
    siblings = sibling_labels(study_folder, run.id, run.config, rows["id"])
    uncertainty, _ = noise_table(rows, by_group=bool(by), siblings=siblings, n_boot=bootstrap, rng=rng)
    result = AnalysisResult(prevalence, uncertainty, settings, notes=data.notes)
    if by:
        _, groups = codes(rows["group"])
        reference = reference_group if reference_group is not None else groups[0]
        if reference not in groups:
            raise SemclustError(f"reference group {reference!r} is not a value of {by!r}: {groups}")
        clusters = sorted(rows["cluster"].unique())
        result.differences = share_differences(count_matrix(rows, groups, clusters), groups, clusters, names,
                                               reference=reference, n_boot=bootstrap, rng=rng,
                                               correction=correction)
        if "description" in rows:
            result.log_odds = weighted_log_odds(rows["description"], rows["group"])
    if time:
        result.over_time = share_table(rows, ["period"], names)
        if by:
            result.over_time = pd.concat([result.over_time.assign(group="all"),
                                          share_table(rows, ["group", "period"], names)], ignore_index=True)
    if outcome:
        result.effects, notes = effects_table(rows, outcome, controls=controls, model=model,
                                              reference=reference_cluster, names=names,
                                              min_cluster_size=min_cluster_size)
        for note in notes:
            data.note(note)
    return result


def cluster_names(clusters: pd.DataFrame | None) -> dict[int, str]:
    """Each cluster's name where it has one (from ``label`` or the explore app), else its top keywords."""
    if clusters is None:
        return {}
    names = {}
    for row in clusters.to_dict("records"):
        name = row.get("name")
        if name is None or (isinstance(name, float) and np.isnan(name)) or str(name) == "":
            name = ", ".join(str(k[0] if isinstance(k, tuple | list) else k) for k in (row.get("keywords") or [])[:3])
        names[int(row["cluster"])] = str(name)
    return names
