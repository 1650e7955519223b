"""A codebook-seeded run checked against coders who coded a sample against the same codebook.

Per code: precision (of the items the model gave the code, the share the coders gave it) and
recall (of the items the coders gave the code, the share the model did), against the coders'
majority code, each item weighted by its stratum's size over the items drawn from it (the
sample of ``semclust sample codes`` is stratified by the model's code, so unweighted recall
would over-count the small codes). Agreement: Krippendorff's alpha (nominal) among the coders,
and among the coders and the model as one more coder. Metrics: scikit-learn's
``precision_recall_fscore_support``, and :func:`krippendorff_alpha` (the ``krippendorff``
package).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from semclust.core.errors import SemclustError
from semclust.study.runs import Run
from semclust.validation.code_sample import NO_CODE, code_strata, codebook_of
from semclust.validation.evaluate.agreement import EvaluationInputError, krippendorff_alpha
from semclust.validation.evaluate.persist import Section

MODEL = "model"


def code_agreement_section(run: Run, path: str | Path) -> Section:
    """The section ``codebook_codes`` of ``semclust evaluate --codebook-codes F`` (module docstring)."""
    from semclust.validation.evaluate.answer_files import read_csv

    path = Path(path)
    names = [c["name"] for c in codebook_of(run)]
    coded = read_csv(path, "codebook codes")
    coders = [c for c in coded.columns if c == "theme" or c.startswith("theme_")]
    if "id" not in coded.columns or not coders:
        raise SemclustError(f"{path.name} needs an 'id' and theme_<coder> column(s) (semclust annotate export); "
                            f"it has {list(coded.columns)}")
    coded = coded.assign(id=coded["id"].astype(str)).set_index("id")[coders]
    coded = coded.apply(lambda col: col.map(lambda v: None if pd.isna(v) or not str(v).strip() else str(v).strip()))
    allowed = set(names) | {NO_CODE}
    bad = coded.stack()[lambda s: ~s.isin(allowed)]
    if len(bad):
        (item, column), value = bad.index[0], bad.iloc[0]
        raise SemclustError(f"{path.name}: item {item}, column {column}: {value!r} is not a code of run {run.id}'s "
                            f"codebook ({', '.join(names)}) nor {NO_CODE!r}")
    model = run.assignments.assign(id=run.assignments["id"].astype(str)).set_index("id")["code"]
    missing = coded.index.difference(model.index)
    if len(missing):
        raise SemclustError(f"{path.name}: item {missing[0]} is not an item of run {run.id}")
    coded[MODEL] = model.reindex(coded.index).fillna("").replace("", NO_CODE)
    majority = coded[coders].apply(_majority, axis=1)
    weights = _stratum_weights(run, coded.index)
    usable = majority.notna()
    labels = [*names, NO_CODE]
    precision, recall, f1, support = precision_recall_fscore_support(
        majority[usable], coded.loc[usable, MODEL], labels=labels, sample_weight=weights[usable], zero_division=np.nan)
    per_code = pd.DataFrame({"code": labels, "precision": precision, "recall": recall, "f1": f1,
                             "n_coded": [int((majority[usable] == c).sum()) for c in labels],
                             "n_model": [int((coded.loc[usable, MODEL] == c).sum()) for c in labels]})
    numeric = coded.replace({name: i for i, name in enumerate(labels)}).apply(pd.to_numeric)
    data = {
        "source": str(path), "coders": coders, "n_items": len(coded), "n_with_majority": int(usable.sum()),
        "alpha_coders": _alpha(numeric[coders]) if len(coders) > 1 else None,
        "alpha_coders_and_model": _alpha(numeric[[*coders, MODEL]]),
        "macro_f1_codes": float(np.nanmean(f1[: len(names)])) if len(names) else None,
        "per_code": per_code.to_dict(orient="records"),
    }
    return Section(data, tables={"per_code": per_code})


def _majority(row: pd.Series) -> str | None:
    """The code most coders gave the item; None on a tie or when nobody coded it."""
    counts = row.dropna().value_counts()
    if counts.empty or (len(counts) > 1 and counts.iloc[0] == counts.iloc[1]):
        return None
    return counts.index[0]


def _stratum_weights(run: Run, ids: pd.Index) -> pd.Series:
    """Each sampled item's weight: its stratum's size over the sampled items of that stratum."""
    strata = code_strata(run)
    sampled = strata.reindex(ids)
    return sampled.map(strata.value_counts() / sampled.value_counts()).astype(float)


def _alpha(ratings: pd.DataFrame) -> float | None:
    try:
        return krippendorff_alpha(ratings, "nominal")
    except EvaluationInputError:
        return None
