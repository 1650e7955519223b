"""Which clusters one group posts more than another, and the words each group's images get.

Per cluster and group, the share is compared with the reference group's: the difference and
the ratio of the shares with item-bootstrap percentile intervals, a two-sample test of the two
proportions (``statsmodels``' ``test_proportions_2indep``, which stays defined at zero counts),
and Benjamini-Hochberg adjusted p-values over every test in the table (``multipletests``), since
a paper reads the whole table at once.

:func:`weighted_log_odds` is Monroe, Colaresi & Quinn's (2008) weighted log-odds ratio with an
informative Dirichlet prior (the corpus' own word counts): words each group's images are
described with more than the other groups', shrunk so rare words do not top the list by chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import test_proportions_2indep

from semclust.study.findings.prevalence import LEVEL, bootstrap_shares, percentile_interval

CORRECTIONS = ("fdr_bh", "bonferroni", "holm", "none")


def share_differences(counts: np.ndarray, groups: list, clusters: list, names: dict[int, str], *,
                      reference: object, n_boot: int, rng: np.random.Generator,
                      correction: str = "fdr_bh", level: float = LEVEL) -> pd.DataFrame:
    """One row per cluster x (group other than ``reference``): shares, difference, ratio, p."""
    ref = groups.index(reference)
    totals = counts.sum(axis=1)
    shares = counts / totals[:, None]
    draws = bootstrap_shares(counts, n_boot, rng)
    rows = []
    for g, group in enumerate(groups):
        if g == ref:
            continue
        diff_draws = draws[:, g] - draws[:, ref]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_draws = draws[:, g] / draws[:, ref]
        ratio_draws[~np.isfinite(ratio_draws)] = np.nan
        d_low, d_high = percentile_interval(diff_draws, level)
        r_low, r_high = percentile_interval(ratio_draws, level)
        for k, cluster in enumerate(clusters):
            a, b = int(counts[g, k]), int(counts[ref, k])
            p = _two_proportion_p(a, int(totals[g]), b, int(totals[ref]))
            ratio = shares[g, k] / shares[ref, k] if b else np.nan
            rows.append({"cluster": cluster, "name": names.get(int(cluster), ""), "group": group,
                         "reference": reference, "n": a, "n_reference": b,
                         "share": shares[g, k], "share_reference": shares[ref, k],
                         "difference": shares[g, k] - shares[ref, k],
                         "difference_low": d_low[k], "difference_high": d_high[k],
                         "ratio": ratio, "ratio_low": r_low[k], "ratio_high": r_high[k], "p": p})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = adjust(table["p"].to_numpy(), correction)
    return table


def _two_proportion_p(a: int, n_a: int, b: int, n_b: int) -> float:
    if a + b == 0 or a + b == n_a + n_b:
        return 1.0  # no item, or every item, in the cluster in both groups: no difference to see
    return float(test_proportions_2indep(a, n_a, b, n_b, compare="diff").pvalue)


def adjust(pvalues: np.ndarray, correction: str = "fdr_bh") -> np.ndarray:
    if correction not in CORRECTIONS:
        from semclust.core.errors import SemclustError

        raise SemclustError(f"correction={correction!r}: choose one of {', '.join(CORRECTIONS)}")
    if correction == "none" or len(pvalues) == 0:
        return np.asarray(pvalues, dtype=float)
    return multipletests(pvalues, method=correction)[1]


def weighted_log_odds(texts: pd.Series, groups: pd.Series, *, top: int = 20,
                      prior_scale: float | None = None, min_count: int = 2) -> pd.DataFrame:
    """Monroe et al.'s z-scored log-odds of each word in each group versus all other groups.

    The prior is the corpus' word distribution scaled to ``prior_scale`` pseudo-counts (default:
    the corpus' own counts, so the prior is as strong as the data, as in R's ``tidylo``).
    Returns the ``top`` words per group, highest z first.
    """
    vectorizer = CountVectorizer(stop_words="english", min_df=1, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    texts = texts.fillna("").astype(str)
    if not texts.str.strip().any():
        return pd.DataFrame(columns=["group", "word", "n_group", "n_rest", "log_odds", "z"])
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words
        return pd.DataFrame(columns=["group", "word", "n_group", "n_rest", "log_odds", "z"])
    words = vectorizer.get_feature_names_out()
    total_counts = np.asarray(matrix.sum(axis=0)).ravel().astype(float)
    keep = total_counts >= min_count
    words, matrix, total_counts = words[keep], matrix[:, keep], total_counts[keep]
    a0 = prior_scale if prior_scale is not None else float(total_counts.sum())
    alpha = total_counts / total_counts.sum() * a0
    out = []
    values = groups.to_numpy()
    for group in sorted(pd.unique(values), key=str):
        mask = values == group
        y_i = np.asarray(matrix[mask].sum(axis=0)).ravel().astype(float)
        y_j = total_counts - y_i
        delta, z = log_odds_z(y_i, y_j, alpha)
        order = np.argsort(-z)[:top]
        out.append(pd.DataFrame({"group": group, "word": words[order], "n_group": y_i[order].astype(int),
                                 "n_rest": y_j[order].astype(int), "log_odds": delta[order], "z": z[order]}))
    return pd.concat(out, ignore_index=True)


def log_odds_z(y_i: np.ndarray, y_j: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monroe et al. (2008), eq. 16-18: log-odds difference with prior ``alpha`` and its z-score."""
    n_i, n_j, a0 = y_i.sum(), y_j.sum(), alpha.sum()
    delta = (np.log((y_i + alpha) / (n_i + a0 - y_i - alpha))
             - np.log((y_j + alpha) / (n_j + a0 - y_j - alpha)))
    variance = 1 / (y_i + alpha) + 1 / (y_j + alpha)
    return delta, delta / np.sqrt(variance)
