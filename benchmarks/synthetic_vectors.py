"""Synthetic embedding corpora with known classes, for the scale and defaults benchmarks.

Real description embeddings live near a low-dimensional surface inside their 384 dimensions,
and their themes overlap.  So: ``k`` classes in a ``latent``-dimensional space, grouped in
themes (neighbouring classes share a theme, as "protest" and "police" descriptions do),
uneven class sizes (Dirichlet weights) and per-class spread, mapped into ``dim`` dimensions by
a random orthonormal map plus a little full-dimensional noise, and normalised to unit length.
"""

from __future__ import annotations

import numpy as np


def sphere_mixture(n: int, k: int, dim: int = 384, seed: int = 0, latent: int = 16,
                   spread=(0.25, 0.5), theme_spread: float = 0.7,
                   chunk: int = 200_000, draw_seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors float32 [n, dim], labels int [n])``; built in chunks so 1M x 384 stays ~1.5 GB.

    ``seed`` fixes the mixture (classes, themes, sizes); ``draw_seed`` gives other items from
    the same mixture, so a large collection can be drawn part by part in bounded memory.
    """
    rng = np.random.default_rng(seed)
    themes = rng.standard_normal((max(2, k // 4), latent)).astype(np.float32) / np.sqrt(latent)
    centers = themes[rng.integers(0, len(themes), k)] + (
        theme_spread * rng.standard_normal((k, latent), dtype=np.float32) / np.sqrt(latent))
    weights = rng.dirichlet(np.full(k, 2.0))
    sigma = rng.uniform(*spread, size=k).astype(np.float32) / np.sqrt(latent, dtype=np.float32)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, latent)))
    basis = basis.T.astype(np.float32)  # latent x dim, orthonormal rows
    if draw_seed is not None:
        rng = np.random.default_rng([seed, draw_seed])
    labels = rng.choice(k, size=n, p=weights)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        part = labels[start:start + chunk]
        inner = centers[part] + rng.standard_normal((len(part), latent), dtype=np.float32) * sigma[part, None]
        block = inner @ basis + 0.02 * rng.standard_normal((len(part), dim), dtype=np.float32)
        vectors[start:start + chunk] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors, labels
