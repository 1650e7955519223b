"""A simulated study with planted effects, for the findings tests.

Two parties post into ``n_clusters`` themes; party ``D`` posts theme 0 (A) twice as often as
party ``R``, and ``R`` posts theme 1 twice as often as ``D`` (so that every other theme has
the same share in both parties: they are the null clusters). Retweets are negative-binomial
with a rate 3x higher in theme 2 than elsewhere. Nothing else is planted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semclust.study.runs import Run

WORDS = {0: "protest crowd banner street", 1: "flag rally speech podium", 2: "family kitchen dinner",
         3: "dog park sunny", 4: "chart numbers economy", 5: "beach sunset waves"}


VIRAL = 2


def shares(group: str, n_clusters: int, base_share: float = 0.1) -> list[float]:
    """True theme shares of ``group``: theme 0 is 2x in D, theme 1 2x in R, the rest equal."""
    first = [2 * base_share, base_share] if group == "D" else [base_share, 2 * base_share]
    rest = (1 - 3 * base_share) / (n_clusters - 2)
    return first + [rest] * (n_clusters - 2)


def planted(n: int = 2000, n_clusters: int = 6, seed: int = 0, base_share: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    party = rng.choice(["D", "R"], size=n)
    labels = np.empty(n, dtype=int)
    for group in ("D", "R"):
        mask = party == group
        labels[mask] = rng.choice(n_clusters, size=mask.sum(), p=shares(group, n_clusters, base_share))
    followers = rng.integers(10, 5000, size=n)
    rate = np.where(labels == VIRAL, 15.0, 5.0) * (1 + followers / 10000)
    retweets = rng.negative_binomial(2, 2 / (2 + rate))
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    words = [WORDS[c % len(WORDS)] + (" red" if p == "D" else " blue") for c, p in zip(labels, party, strict=True)]
    return pd.DataFrame({"id": [f"p{i}" for i in range(n)], "image": "", "cluster": pd.array(labels, dtype="Int64"),
                         "probability": rng.uniform(0.6, 1.0, size=n), "description": words,
                         "party": party, "created_at": dates.strftime("%Y-%m-%d"),
                         "retweets": retweets.astype(str), "followers": followers.astype(str)})


def as_run(assignments: pd.DataFrame, folder: Path) -> Run:
    clusters = pd.DataFrame({"cluster": sorted(assignments["cluster"].dropna().unique()),
                             "name": "", "keywords": [[("w", 1.0)]] * assignments["cluster"].nunique()})
    return Run(folder / "runs" / "r1", {"seed": 0}, assignments, clusters)
