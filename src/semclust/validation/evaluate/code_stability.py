"""Stability of a codebook-seeded run: the seeded assignment redone with other seeds and with
other embedders, measured with the machinery of :mod:`seed_stability`.

Across seeds (the run's embedder): pairwise AMI of the whole labelling (codes, new themes,
none), and which codes and new themes of the first seed persist (best-match Jaccard). The
assignment to codes depends on the seed only through the mixture fit of the threshold; the new
themes depend on it through UMAP and HDBSCAN. Across embedders: per other embedder, the share
of items given the same code as with the run's embedder (new themes counted as "no code", their
numbers are not comparable), Cohen's kappa of the two code labellings (scikit-learn) and their
AMI.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from semclust.study.runs import Run
from semclust.validation.evaluate.ami import PAPER_FORM, adjusted_mutual_info
from semclust.validation.evaluate.persist import Section
from semclust.validation.evaluate.seed_stability import stability as seed_stability


def code_stability_section(run: Run, study: Path, seeds: list[int], embedders: list[str],
                           jaccard: float = 0.5, ami_form: str = PAPER_FORM) -> Section:
    """The section ``code_stability`` (module docstring)."""
    from semclust.study.config import RunConfig
    from semclust.study.seeded import codes_of_run, parse_min_similarity, seeded_labels
    from semclust.study.workspace import Study

    record = run.config["codebook"]
    codes = codes_of_run(run)
    threshold = parse_min_similarity(record["min_similarity"])
    config = RunConfig.from_dict(run.config)
    n_codes = len(codes)
    with Study(study) as s:
        def labelled(embedder: str, seed: int):
            found = seeded_labels(s, dataclasses.replace(config, embedder=embedder, seed=seed), codes, threshold,
                                  record["new_themes"])
            return pd.Series(found.labels, index=found.ids.astype(str))

        by_seed = {seed: labelled(config.embedder, seed) for seed in seeds}
        report = seed_stability(lambda seed: by_seed[seed].to_numpy(), seeds, jaccard_threshold=jaccard,
                                ami_form=ami_form)
        reference = by_seed[seeds[0]]
        same_code_seeds = [float(np.mean(_codes_only(by_seed[sd], n_codes) == _codes_only(reference, n_codes)))
                           for sd in seeds[1:]]
        rows = []
        for embedder in embedders:
            other = labelled(embedder, seeds[0]).reindex(reference.index)
            a, b = _codes_only(reference, n_codes), _codes_only(other.fillna(-1).astype(int), n_codes)
            rows.append({"embedder": embedder, "same_code_share": float(np.mean(a == b)),
                         "kappa": float(cohen_kappa_score(a, b)), "ami": adjusted_mutual_info(a, b, ami_form)})
    persistence = report.persistence.assign(
        kind=lambda t: np.where(t["cluster"] < n_codes, "code", np.where(t["cluster"] >= 0, "new theme", "none")))
    data = {
        "embedder": config.embedder, "seeds": report.seeds, "ami_form": ami_form,
        "ami_mean": report.ami_mean, "ami_min": report.ami_min, "ami_max": report.ami_max,
        "same_code_share_min": min(same_code_seeds) if same_code_seeds else None,
        "n_codes": n_codes, "codes_persistent": int(persistence.query("kind == 'code'")["persistent"].sum()),
        "codes_present": int((persistence["kind"] == "code").sum()),
        "new_themes_persistent": int(persistence.query("kind == 'new theme'")["persistent"].sum()),
        "new_themes_present": int((persistence["kind"] == "new theme").sum()),
        "jaccard_threshold": jaccard, "embedders": rows,
    }
    tables = {"pairwise_ami": report.pairwise_ami, "persistence": persistence}
    if rows:
        tables["embedders"] = pd.DataFrame(rows)
    return Section(data, tables=tables)


def _codes_only(labels: pd.Series, n_codes: int) -> np.ndarray:
    """Code numbers, with new themes and none as -1."""
    values = labels.to_numpy()
    return np.where((values >= 0) & (values < n_codes), values, -1)
