"""Reducer and clusterer settings that fit the corpus size, when the user names none.

The papers' settings (``umap:10:15`` + ``hdbscan:50``) were chosen for ~10k images.  A
minimum cluster size of 50 hides real themes in a corpus of 700 and is too fine for a
million, and 10 UMAP components cannot be fitted on 5 items.  The ``auto`` preset scales
the settings with the number of items ``n`` by one rule:

- ``hdbscan:M`` with ``M = round(sqrt(n) / 2)``, kept within [5, 500]: exactly the paper's
  50 at n = 10,000, and growing with the square root of n so that the number of clusters
  HDBSCAN *can* find (at most n / M = 2 sqrt(n)) grows with the corpus too; ``min_samples``
  is capped at 50 so that the density estimate of a million items stays cheap.
- UMAP keeps 15 neighbours (fewer only when there are fewer items) and uses 5 components
  below 1,000 items (BERTopic's default, which wins on small corpora) and the paper's 10 above.
- Below ``KMEANS_BELOW`` items density is not meaningful (a "cluster" of 5 in 60 is
  noise): k-means with ``k = round(sqrt(n / 2))`` (the usual rule of thumb), and below
  ``NO_REDUCTION_BELOW`` items no reduction at all (UMAP cannot embed so few points).

``--preset arminio`` gives the paper's settings at every size.  An explicit ``--reducer``
or ``--clusterer`` always wins over a preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from semclust.core.errors import SemclustError

PRESETS = ("auto", "arminio")
ARMINIO = ("umap:10:15", "hdbscan:50")
KMEANS_BELOW = 100
NO_REDUCTION_BELOW = 30
MIN_CLUSTER_SIZE_BOUNDS = (5, 500)
MAX_MIN_SAMPLES = 50


@dataclass(frozen=True)
class Settings:
    """A reducer and clusterer spec, and the sentence that tells the user why."""

    reducer: str
    clusterer: str
    reason: str


def min_cluster_size(n: int) -> int:
    low, high = MIN_CLUSTER_SIZE_BOUNDS
    return int(min(high, max(low, round(math.sqrt(n) / 2))))


def kmeans_k(n: int) -> int:
    return int(max(2, min(n - 1, round(math.sqrt(n / 2)))))


def auto_settings(n: int) -> Settings:
    """The ``auto`` preset's reducer and clusterer for ``n`` items."""
    if n < 3:
        raise SemclustError(f"{n} items cannot be clustered; at least 3 are needed")
    if n < NO_REDUCTION_BELOW:
        k = kmeans_k(n)
        return Settings("none", f"kmeans:{k}",
                        f"{n} items: too few for UMAP or density clustering; k-means with k = sqrt(n/2) = {k} "
                        "on the embeddings themselves")
    neighbors = min(15, n - 1)
    if n < KMEANS_BELOW:
        k = kmeans_k(n)
        return Settings(f"umap:5:{neighbors}", f"kmeans:{k}",
                        f"{n} items (< {KMEANS_BELOW}): density clustering is not meaningful; "
                        f"k-means with k = sqrt(n/2) = {k}")
    components = 5 if n < 1000 else 10
    size = min_cluster_size(n)
    samples = min(size, MAX_MIN_SAMPLES)
    clusterer = f"hdbscan:{size}" if samples == size else f"hdbscan:{size}:{samples}"
    why_components = "BERTopic's 5 below 1,000 items" if components == 5 else "the paper's 10"
    return Settings(f"umap:{components}:{neighbors}", clusterer,
                    f"{n} items: minimum cluster size sqrt(n)/2 = {size} (the paper's 50 at 10k), "
                    f"{why_components} UMAP components")


def settings_for(n: int, preset: str = "auto", reducer: str | None = None,
                 clusterer: str | None = None) -> Settings:
    """The specs a run uses: the user's own where given, the preset's for the rest."""
    if preset not in PRESETS:
        raise SemclustError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if reducer is not None and clusterer is not None:
        return Settings(reducer, clusterer, "as given")
    chosen = auto_settings(n) if preset == "auto" else Settings(*ARMINIO, "the paper's settings (--preset arminio)")
    return Settings(reducer if reducer is not None else chosen.reducer,
                    clusterer if clusterer is not None else chosen.clusterer, chosen.reason)
