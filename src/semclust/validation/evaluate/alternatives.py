"""A run against its alternatives: another run, other seeds, other K.

Sections for ``semclust compare`` (AMI and co-occurrence with another run of the same
items), ``semclust stability`` (the run's settings reclustered with several seeds) and
``semclust choose-k`` (S_Dbw over a grid of K on the run's reduced space). Like
:mod:`semclust.validation.evaluate.sections` they write nothing, and import :mod:`semclust.validation.sampling`
inside the function that needs it, as it imports this package.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from semclust.core.errors import SemclustError
from semclust.validation.evaluate.ami import PAPER_FORM
from semclust.validation.evaluate.compare import ami, cooccurrence
from semclust.validation.evaluate.marginal_gain import choose_k as marginal_gain_rule
from semclust.validation.evaluate.persist import Section, load_evaluation
from semclust.validation.evaluate.sdbw import OUTLIER, PAPER_VARIANT
from semclust.validation.evaluate.seed_stability import stability as seed_stability

if TYPE_CHECKING:
    from semclust.study.runs import Run

log = logging.getLogger(__name__)


def compare_section(
    first: Run, second: Run, drop_outliers: bool, ami_form: str = PAPER_FORM
) -> Section:
    """AMI and co-occurrence of the items both runs clustered: ``first``'s ``compare`` section.

    The section keeps ``first``'s earlier comparisons with other runs; this one is
    ``data["runs"][second.id]``. ``ami`` follows ``drop_outliers``; both readings are
    kept beside it: ``ami_with_outliers`` (-1 as one more label) and
    ``ami_without_outliers`` (items that are an outlier in either run left out, their
    number in ``n_outlier_items``).
    """
    from semclust.validation.evaluate.answer_files import cluster_labels
    from semclust.validation.evaluate.plots import plot_cooccurrence

    all_a, all_b = cluster_labels(first.assignments), cluster_labels(second.assignments)
    common = all_a.index.intersection(all_b.index)
    if common.empty:
        raise SemclustError(f"runs {first.id} and {second.id} have no clustered item in common")
    a, b = all_a.reindex(common), all_b.reindex(common)
    table = cooccurrence(a, b, drop_outliers=drop_outliers, names=(first.id, second.id))
    heatmap = f"compare_{second.id}.png"
    with_outliers = ami(a, b, form=ami_form)
    outlier_items = int(((a == OUTLIER) | (b == OUTLIER)).sum())
    without = None if outlier_items == len(a) else ami(a, b, drop_outliers=True, form=ami_form)
    result = {
        "ami": without if drop_outliers else with_outliers,
        "ami_form": ami_form,
        "ami_with_outliers": with_outliers,
        "ami_without_outliers": without,
        "n_outlier_items": outlier_items,
        "drop_outliers": drop_outliers,
        "n_items": len(common),
        "only_first": len(all_a) - len(common),
        "only_second": len(all_b) - len(common),
        "heatmap": heatmap,
    }
    data = {"runs": load_evaluation(first).get("compare", {}).get("runs", {}) | {second.id: result}}
    draw = {heatmap: lambda path: plot_cooccurrence(table, path)}
    return Section(data, tables={f"cooccurrence_{second.id}": table.reset_index()}, plots=draw)


def stability_section(
    run: Run,
    study: Path,
    seeds: list[int],
    overrides: dict,
    jaccard: float,
    ami_form: str = PAPER_FORM,
) -> Section:
    """Recluster the study's current embedded descriptions once per seed.

    ``overrides`` replaces the run's ``embedder``, ``reducer`` or ``clusterer`` where not None.
    """
    from semclust.study.config import RunConfig
    from semclust.study.pipeline import reduce_and_cluster
    from semclust.study.workspace import Study

    config = RunConfig.from_dict(run.config)
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v})
    with Study(study) as s:
        if s.description_source().__dict__ != run.config.get("source"):
            log.warning("the study's descriptions have changed since run %s", run.id)
        _, X = s.embed(config.embedder, progress=False)

    def fit_predict(seed: int):
        return reduce_and_cluster(X, dataclasses.replace(config, seed=seed))[0]

    report = seed_stability(fit_predict, seeds, jaccard_threshold=jaccard, ami_form=ami_form)
    data = {
        "embedder": config.embedder,
        "reducer": config.reducer,
        "clusterer": config.clusterer,
        "seeds": report.seeds,
        "ami_form": ami_form,
        "ami_mean": report.ami_mean,
        "ami_min": report.ami_min,
        "ami_max": report.ami_max,
        "n_clusters": report.n_clusters.to_dict(),
        "n_persistent": report.n_persistent,
        "n_reference_clusters": len(report.persistence),
        "jaccard_threshold": jaccard,
        "pairwise_ami": report.pairwise_ami,
        "persistence": report.persistence,
    }
    return Section(
        data, tables={"pairwise_ami": report.pairwise_ami, "persistence": report.persistence}
    )


def choose_k_section(
    run: Run, grid: list[int], threshold: float, seed: int, sdbw_variant: str = PAPER_VARIANT
) -> Section:
    """S_Dbw of k-means at each K of ``grid`` on the run's reduced space, and the K chosen."""
    from semclust.validation.evaluate.plots import plot_marginal_gain

    if run.reduced is None:
        raise SemclustError(f"run {run.id} has no reduced.npy to cluster at each K")
    choice = marginal_gain_rule(
        run.reduced,
        grid,
        threshold=threshold,
        random_state=seed,
        s_dbw_kwargs={"variant": sdbw_variant},
    )
    data = {
        "grid": grid,
        "threshold": threshold,
        "s_dbw_variant": sdbw_variant,
        "k": choice.k,
        "table": choice.table,
    }
    draw = {
        "choose_k.png": lambda path: plot_marginal_gain(
            choice.table, path, threshold=threshold, chosen_k=choice.k
        )
    }
    return Section(data, tables={"s_dbw": choice.table}, plots=draw)
