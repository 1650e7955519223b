"""Does an image's cluster go with its outcome (retweets, likes, a yes/no)?

The outcome is regressed on cluster dummies against a reference cluster (the largest, unless
named), plus optional controls, through ``statsmodels``: a negative binomial or Poisson model
for counts, a logit for a 0/1 outcome, OLS otherwise. Standard errors are heteroskedasticity-
robust (HC1, the Stata ``robust`` default). A cluster too small to estimate, or (for a logit)
one whose outcome never varies, is left out with a note rather than failing the model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm

from semclust.core.errors import SemclustError
from semclust.study.findings.prevalence import LEVEL

MODELS = ("negbin", "poisson", "ols", "logit")
#: Fewer items than this and a cluster's coefficient is left out.
MIN_CLUSTER_SIZE = 10
COVARIANCE = "HC1"


def design(rows: pd.DataFrame, outcome: str, controls: tuple[str, ...], reference: int | None,
           min_cluster_size: int, model: str) -> tuple[pd.Series, pd.DataFrame, int, list[str]]:
    """Outcome, design matrix (constant, cluster dummies, controls), reference cluster, notes."""
    notes = []
    data = rows.dropna(subset=[outcome, *controls])
    y = data[outcome]
    _check_outcome(y, outcome, model)
    sizes = data["cluster"].value_counts()
    small = sorted(int(c) for c in sizes[sizes < min_cluster_size].index)
    if model == "logit":
        constant = data.groupby("cluster")[outcome].nunique()
        small += sorted(int(c) for c in constant[constant < 2].index if int(c) not in small)
    for cluster in small:
        notes.append(f"cluster {cluster} ({int(sizes.get(cluster, 0))} items) is too small or too uniform "
                     f"to estimate an effect on {outcome!r}; it is left out of the regression")
    data = data[~data["cluster"].isin(small)]
    if data["cluster"].nunique() < 2:
        raise SemclustError(f"fewer than two clusters with at least {min_cluster_size} items have a value "
                            f"in {outcome!r}: no effect to estimate")
    if reference is None:
        reference = int(data["cluster"].value_counts().idxmax())
    elif reference not in set(data["cluster"]):
        raise SemclustError(f"reference cluster {reference} is not among the estimable clusters")
    dummies = pd.get_dummies(data["cluster"].astype(int), prefix="cluster", dtype=float)
    dummies = dummies.drop(columns=f"cluster_{reference}")
    for control in controls:
        if data[control].nunique() < 2:
            raise SemclustError(f"control {control!r} is constant ({data[control].iloc[0]!r}) among the "
                                "rows used: it cannot be estimated beside the intercept; leave it out")
    X = sm.add_constant(pd.concat([dummies, data[list(controls)]], axis=1), has_constant="add")
    return data[outcome], X, reference, notes


def _check_outcome(y: pd.Series, outcome: str, model: str) -> None:
    if model not in MODELS:
        raise SemclustError(f"model={model!r}: choose one of {', '.join(MODELS)}")
    if y.empty:
        raise SemclustError(f"outcome {outcome!r} has no values")
    if model == "logit" and not set(np.unique(y)) <= {0.0, 1.0}:
        raise SemclustError(f"model='logit' needs a 0/1 outcome; {outcome!r} has other values")
    if model in ("negbin", "poisson") and ((y < 0).any() or (y != np.round(y)).any()):
        raise SemclustError(f"model={model!r} needs counts (whole numbers >= 0); {outcome!r} has others: "
                            "use --model ols")


def fit(y: pd.Series, X: pd.DataFrame, model: str):
    """The fitted statsmodels result with robust (HC1) standard errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; failures raise below
        try:
            if model == "negbin":
                return sm.NegativeBinomial(y, X).fit(method="newton", cov_type=COVARIANCE, disp=0, maxiter=200)
            if model == "poisson":
                return sm.GLM(y, X, family=sm.families.Poisson()).fit(cov_type=COVARIANCE)
            if model == "logit":
                return sm.Logit(y, X).fit(cov_type=COVARIANCE, disp=0, maxiter=200)
            return sm.OLS(y, X).fit(cov_type=COVARIANCE)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise SemclustError(f"the {model} model could not be fitted: {exc}") from None


def effects_table(rows: pd.DataFrame, outcome: str, *, controls: tuple[str, ...] = (),
                  model: str = "negbin", reference: int | None = None, names: dict[int, str] | None = None,
                  min_cluster_size: int = MIN_CLUSTER_SIZE, level: float = LEVEL) -> tuple[pd.DataFrame, list[str]]:
    """One row per term (clusters vs the reference, then controls): coef, robust SE, CI, p, n."""
    names = names or {}
    y, X, reference, notes = design(rows, outcome, controls, reference, min_cluster_size, model)
    result = fit(y, X, model)
    if not getattr(result, "mle_retvals", {}).get("converged", True):
        notes.append(f"the {model} model of {outcome!r} did not converge: read its estimates with care")
    ci = result.conf_int(alpha=1 - level)
    sizes = rows.loc[y.index, "cluster"].value_counts()
    table = []
    for term in X.columns:
        kind = "cluster" if term.startswith("cluster_") else ("intercept" if term == "const" else "control")
        cluster = int(term.split("_", 1)[1]) if kind == "cluster" else None
        table.append({
            "term": term, "kind": kind, "cluster": cluster,
            "name": names.get(cluster, "") if cluster is not None else "",
            "reference": reference, "coef": float(result.params[term]), "se": float(result.bse[term]),
            "ci_low": float(ci.loc[term, 0]), "ci_high": float(ci.loc[term, 1]),
            "p": float(result.pvalues[term]), "n": int(sizes.get(cluster, 0)) if cluster is not None else len(y),
        })
    table = pd.DataFrame(table).astype({"cluster": "Int64"})
    if model in ("negbin", "poisson", "logit"):  # rate ratios / odds ratios, what papers report
        for column in ("coef", "ci_low", "ci_high"):
            table[f"exp_{column}"] = np.exp(table[column])
    table.attrs.update(model=model, outcome=outcome, n=len(y), reference=reference)
    return table.reset_index(drop=True), notes
