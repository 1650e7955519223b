"""GPU clustering through RAPIDS cuML: ``umap:``, ``hdbscan:`` and ``kmeans:`` on a CUDA device.

``--device cuda`` asks for the GPU (an error saying what is missing when it is not there),
``--device auto`` (the default) uses it when cuML and a GPU are both present, ``cpu`` never.
The specs and seeds are the same as on the CPU; cuML's UMAP and k-means are seeded but not
bit-identical to umap-learn's and scikit-learn's, and its HDBSCAN follows the same algorithm
(results agree up to ties).  cuML is never a dependency: install it from RAPIDS' own index
(``pip install cuml-cu12``) on a machine with an NVIDIA GPU.
"""

from __future__ import annotations

import functools
import logging

from semclust.core.errors import SemclustError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
GPU_SPECS = ("umap", "hdbscan", "kmeans")


@functools.cache
def cuml_status() -> str | None:
    """None when cuML can run here, else why not."""
    try:
        import cuml  # noqa: F401
    except ImportError:
        return "RAPIDS cuML is not installed (pip install cuml-cu12, on a machine with an NVIDIA GPU)"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device is visible"
    except Exception as exc:  # cupy raises its own CUDA errors when no driver is present
        return f"no usable CUDA device ({exc})"
    return None


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda`` for a requested ``auto``/``cpu``/``cuda``."""
    if device not in DEVICES:
        raise SemclustError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return "cpu"
    problem = cuml_status()
    if problem is None:
        return "cuda"
    if device == "cuda":
        raise SemclustError(f"--device cuda: {problem}")
    return "cpu"


def make_gpu_estimator(name: str, params: dict, random_state: int | None):
    """The cuML twin of a CPU estimator built from the same spec (``params`` as the CPU factory parsed them)."""
    if name == "umap":
        from cuml.manifold import UMAP

        return UMAP(n_components=params["n_components"], n_neighbors=params["n_neighbors"],
                    metric=params.get("metric", "cosine"), random_state=random_state, output_type="numpy")
    if name == "hdbscan":
        from cuml.cluster.hdbscan import HDBSCAN

        return HDBSCAN(min_cluster_size=params["min_cluster_size"], min_samples=params.get("min_samples"),
                       prediction_data=True, output_type="numpy")
    if name == "kmeans":
        from cuml.cluster import KMeans

        return KMeans(n_clusters=params["n_clusters"], n_init=params.get("n_init", 10),
                      random_state=0 if random_state is None else random_state, output_type="numpy")
    raise SemclustError(f"{name} has no GPU version; GPU runs support {', '.join(GPU_SPECS)}")


def on_device(estimator, name: str, device: str, random_state: int | None):
    """``estimator`` itself on the CPU, or its cuML twin on the GPU (same parameters, same seed)."""
    if name not in GPU_SPECS or resolve_device(device) == "cpu":
        return estimator
    params = estimator.get_params()
    gpu = make_gpu_estimator(name, params, random_state)
    log.info("%s runs on the GPU (cuML)", name)
    return gpu
