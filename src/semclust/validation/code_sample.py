"""A sample of a codebook-seeded run for coders to code against the codebook, blind to the model.

Strata are the run's codes plus one stratum of the items that fit no code (new themes
included): ``stratified_sample``'s rule per stratum, so a small code is checked as closely as
a large one and recall can be estimated from the "no code" stratum. The sample is written as
a consistency sample (one ``theme_<coder>`` column each; ``semclust annotate serve`` shows it)
whose sidecar carries the codebook: the app then offers the codes, and "none of these", instead
of a free theme. The model's codes stay out of the files; ``evaluate --codebook-codes`` reads
them from the run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semclust.core.errors import SemclustError
from semclust.study.runs import Run
from semclust.validation.sampling_export import Provenance, export_consistency

#: What a coder answers for an item that fits none of the codes.
NO_CODE = "none of these"


def codebook_of(run: Run) -> list[dict]:
    """``[{"name", "definition"}, ...]`` of a seeded run; an error for any other run."""
    record = run.config.get("codebook")
    if not record:
        raise SemclustError(f"run {run.id} was not seeded with a codebook (semclust cluster --codebook F)")
    return [{"name": c["name"], "definition": c["definition"]} for c in record["codes"]]


def code_strata(run: Run) -> pd.Series:
    """The stratum of every clustered item: its code's index, or one more for "no code"."""
    codes = codebook_of(run)
    a = run.assignments[run.assignments["cluster"].notna()]
    position = {c["name"]: i for i, c in enumerate(codes)}
    strata = a["code"].fillna("").map(lambda name: position.get(name, len(codes)))
    return pd.Series(strata.to_numpy(), index=a["id"].astype(str).to_numpy())


def export_code_sample(run: Run, study: Path, prefix: Path, per_code: int, leave_out: int,
                       coders: tuple[str, ...], text_column: str | None, seed: int, max_side: int,
                       overwrite: bool) -> list[Path]:
    """Draw the sample (module docstring) and write it as a consistency sample with the codebook."""
    from semclust.validation.sampling import stratified_sample

    codebook = codebook_of(run)
    table = stratified_sample(code_strata(run), per_code, leave_out, seed)
    sample = pd.DataFrame({"id": table["id"], "cluster": np.zeros(len(table), dtype=int)})  # one blind group
    parameters = {"per_cluster": per_code, "leave_out": leave_out, "coders": list(coders),
                  "text_column": text_column, "codebook": codebook, "no_code": NO_CODE}
    provenance = Provenance("codes", str(Path(study).resolve()), run.id, seed, parameters)
    return export_consistency(sample, run.assignments, prefix, provenance, coders=coders,
                              text_column=text_column, max_side=max_side, overwrite=overwrite)
