"""The report's 2-D map, drawn from the space the run clustered in.

The map used to run a second UMAP on the raw embeddings, as expensive as the reduction itself.
It now starts from the run's reduced matrix (10 dimensions instead of 384: the neighbour search,
the costly part, is far cheaper), returns it unchanged when it already has two dimensions, and
above :data:`MAP_FIT_MAX` items fits the 2-D UMAP on a seeded sample and places every other
item with ``UMAP.transform``, in chunks with a progress bar: linear in n, not a full fit.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from semclust.core.errors import SemclustError
from semclust.core.progress import track

log = logging.getLogger(__name__)

MAP_FIT_MAX = 20_000
TRANSFORM_CHUNK = 50_000


def map_coordinates(reduced: np.ndarray, how: str, seed: int, progress: bool = False) -> np.ndarray | None:
    """2-D positions (float32, one row per item) for ``how`` = umap, pca or none."""
    if how == "none" or len(reduced) < 4:
        return None
    reduced = np.asarray(reduced, dtype=np.float32)
    if how == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(reduced).astype(np.float32)
    if how != "umap":
        raise SemclustError(f"map must be umap, pca or none, got {how!r}")
    if reduced.shape[1] == 2:
        return reduced.copy()
    import umap

    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
    model = umap.UMAP(n_components=2, n_neighbors=min(15, len(reduced) - 1), random_state=seed)
    if len(reduced) <= MAP_FIT_MAX:
        return model.fit_transform(reduced).astype(np.float32)
    rng = np.random.default_rng(seed)
    fitted = np.sort(rng.choice(len(reduced), MAP_FIT_MAX, replace=False))
    coords = np.empty((len(reduced), 2), dtype=np.float32)
    log.info("map: 2-D UMAP fitted on %d of %d items, the rest placed by transform", MAP_FIT_MAX, len(reduced))
    coords[fitted] = model.fit_transform(reduced[fitted])
    rest = np.setdiff1d(np.arange(len(reduced)), fitted)
    chunks = [rest[i:i + TRANSFORM_CHUNK] for i in range(0, len(rest), TRANSFORM_CHUNK)]
    for chunk in track(chunks, len(chunks), "Placing items on the map", progress):
        coords[chunk] = model.transform(reduced[chunk])
    return coords
