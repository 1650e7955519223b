"""A run's fitted reducer and clusterer: fit (on everything or on a sample), assign new items, save.

One machinery serves two needs:

- ``fit_sample``: on very large collections the reducer and clusterer are fitted on a seeded
  random sample and every other item is *assigned* (UMAP/PCA ``transform``, HDBSCAN
  ``approximate_predict``, k-means ``predict``);
- ``Run.transform``: new items are assigned to an existing run's clusters through the same
  saved model (``runs/<id>/model/model.joblib``).

Cluster numbers in the model follow the run's (largest cluster = 0), so an assigned item
gets the number a reader sees in the run's tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from semclust.core.errors import SemclustError

log = logging.getLogger(__name__)

#: Collections larger than this are fitted on a sample when the config leaves ``fit_sample`` unset.
AUTO_FIT_ABOVE = 200_000
#: The sample size used then: UMAP on 100k x 384 takes minutes on a laptop, not hours.
AUTO_FIT_SAMPLE = 100_000
#: Up to this many items a full fit is cheap enough to run beside a sampled one and report the AMI.
FULL_FIT_CHECK_MAX = 20_000
#: An assigned item farther from its nearest centroid than this quantile of the fitted items'
#: own centroid distances counts as "far" in the drift report.
FAR_QUANTILE = 0.95
#: Drift warnings (see :func:`drift_warning`).
FAR_WARNING = 0.25
OUTLIER_WARNING = 0.15

#: Runs fitted on more items than this save no model (UMAP keeps its training data: a fit on a
#: million items would write gigabytes); fit on a sample (fit_sample) to keep transform available.
MODEL_SAVE_MAX = 300_000

#: Items not in the fit are assigned this many at a time: memory stays bounded by the block, not
#: the corpus (no copy of all the unfitted rows), and every block gets UMAP transform's
#: epochs for large calls, as the chunks of semclust.study.ray_assign do.
ASSIGN_BLOCK = 50_000

MODEL_FOLDER = "model"
MODEL_FILE = "model.joblib"


@dataclass
class FittedModel:
    """What is needed to place a new item: the fitted estimators and the run's cluster geometry."""

    reducer: object
    clusterer: object
    label_map: dict[int, int]  # the clusterer's own labels -> the run's numbers (by size)
    centroids: np.ndarray  # one row per run cluster 0..k-1, in the embedding space (before reduction)
    far_distance: float  # FAR_QUANTILE of fitted items' distance to their own centroid
    n_fitted: int = 0
    versions: dict = field(default_factory=dict)


@dataclass
class FitResult:
    labels: np.ndarray  # run numbers, -1 = outlier
    probabilities: np.ndarray
    reduced: np.ndarray
    fitted: np.ndarray  # True where the item was in the fit, False where it was assigned
    model: FittedModel
    metrics: dict


def resolve_fit_sample(n_items: int, fit_sample: int | None) -> int | None:
    """How many items to fit on: ``None`` = all of them.

    ``fit_sample=None`` is automatic (a sample of ``AUTO_FIT_SAMPLE`` above ``AUTO_FIT_ABOVE``
    items), ``0`` always fits on everything, ``N`` fits on ``N`` random items when there are more.
    """
    if fit_sample is None:
        return AUTO_FIT_SAMPLE if n_items > AUTO_FIT_ABOVE else None
    if isinstance(fit_sample, bool) or not isinstance(fit_sample, int) or fit_sample < 0:
        raise SemclustError(f"fit_sample must be a whole number >= 0 (0 = fit on everything), got {fit_sample!r}")
    if fit_sample == 0 or fit_sample >= n_items:
        return None
    if fit_sample < 3:
        raise SemclustError(f"fit_sample {fit_sample} is too small to fit a clustering on")
    return fit_sample


def size_order(labels: np.ndarray) -> dict[int, int]:
    """Old label -> new number, clusters numbered 0, 1, ... from the largest down (ties by old label)."""
    labels = np.asarray(labels)
    found, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = found[np.lexsort((found, -counts))]
    return {int(old): new for new, old in enumerate(order)}


def renumber(labels: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``mapping[label]`` for every label, -1 where the mapping has none; vectorised (a million labels)."""
    labels = np.asarray(labels, dtype=int)
    if not mapping:
        return np.full(labels.shape, -1, dtype=int)
    old = np.fromiter(mapping.keys(), dtype=int, count=len(mapping))
    new = np.fromiter(mapping.values(), dtype=int, count=len(mapping))
    order = np.argsort(old)
    old, new = old[order], new[order]
    where = np.clip(np.searchsorted(old, labels), 0, len(old) - 1)
    return np.where(old[where] == labels, new[where], -1)


def ready_to_assign(model: FittedModel) -> FittedModel:
    """Build hdbscan's prediction data once, before items are first assigned (or shipped to workers).

    It is built from the fitted tree, as ``prediction_data=True`` would build it at the end of
    ``fit``: 10 s of a 100k fit that most runs never use. (cuML's HDBSCAN needs the flag before
    fitting; semclust.core.gpu sets it.)
    """
    clusterer = model.clusterer
    if type(clusterer).__module__.startswith("hdbscan") and getattr(clusterer, "_prediction_data", None) is None:
        clusterer.generate_prediction_data()
    return model


def fit_model(X: np.ndarray, reducer, clusterer, *, fit_sample: int | None = None, seed: int = 0) -> FitResult:
    """Fit ``reducer`` + ``clusterer`` on all of ``X`` or a seeded sample, then assign the rest."""
    X = np.asarray(X, dtype=np.float32)
    size = resolve_fit_sample(len(X), fit_sample)
    n_components = getattr(reducer, "n_components", None)
    n_fit = size or len(X)
    if isinstance(n_components, int) and n_components >= n_fit:
        raise SemclustError(f"{n_components} components need more than {n_fit} items")
    fitted = np.ones(len(X), dtype=bool)
    if size is not None:
        fitted[:] = False
        fitted[np.random.default_rng(seed).choice(len(X), size=size, replace=False)] = True
        _check_can_assign(reducer, clusterer)
        log.info("fitting on a random sample of %d of %d items; assigning the rest", size, len(X))
    reduced_fit = np.asarray(reducer.fit_transform(X[fitted]), dtype=np.float32)
    raw = np.asarray(clusterer.fit_predict(reduced_fit), dtype=int)
    mapping = size_order(raw)
    labels = np.full(len(X), -1, dtype=int)
    probabilities = np.ones(len(X), dtype=float)
    reduced = np.zeros((len(X), reduced_fit.shape[1]), dtype=np.float32)
    labels[fitted], reduced[fitted] = renumber(raw, mapping), reduced_fit
    strengths = getattr(clusterer, "probabilities_", None)
    if strengths is not None and len(strengths) == len(raw):
        probabilities[fitted] = strengths
    model = FittedModel(reducer, clusterer, mapping, *_geometry(X[fitted], labels[fitted], len(mapping)),
                        n_fitted=int(fitted.sum()))
    rest = np.flatnonzero(~fitted)
    for start in range(0, len(rest), ASSIGN_BLOCK):
        block = rest[start:start + ASSIGN_BLOCK]
        labels[block], probabilities[block], reduced[block] = assign(model, X[block])
    metrics = {"n_fitted": int(fitted.sum()), "n_assigned": int((~fitted).sum())}
    return FitResult(labels, probabilities, reduced, fitted, model, metrics)


def _geometry(X: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Centroids and the "far" distance, measured before reduction: UMAP's transform pulls even
    unrelated items onto the learned manifold, so distances after it hide drift."""
    centroids = np.zeros((k, X.shape[1]), dtype=np.float32)
    own = []
    for cluster in range(k):
        members = X[labels == cluster]
        centroids[cluster] = members.mean(axis=0)
        own.append(np.linalg.norm(members - centroids[cluster], axis=1))
    far = float(np.quantile(np.concatenate(own), FAR_QUANTILE)) if own else float("inf")
    return centroids, far


def _check_can_assign(reducer, clusterer) -> None:
    if not hasattr(reducer, "transform"):
        raise SemclustError(f"{type(reducer).__name__} cannot place new items (it has no transform)")
    if not (hasattr(clusterer, "predict") or _is_hdbscan(clusterer)):
        raise SemclustError(
            f"{type(clusterer).__name__} cannot assign new items (no predict); "
            "use hdbscan or kmeans, or fit on everything (fit_sample=0)")


def _is_hdbscan(clusterer) -> bool:
    """hdbscan's HDBSCAN, or cuML's on a GPU (``--device cuda``, semclust.core.gpu)."""
    return type(clusterer).__module__.startswith(("hdbscan", "cuml.cluster.hdbscan"))


def assign(model: FittedModel, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run numbers (-1 = outlier), membership strengths and reduced coordinates of new rows ``X``."""
    _check_can_assign(model.reducer, model.clusterer)
    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        raise SemclustError("no new items to assign")
    ready_to_assign(model)
    reduced = np.asarray(model.reducer.transform(X), dtype=np.float32)
    if _is_hdbscan(model.clusterer):
        if type(model.clusterer).__module__.startswith("cuml"):
            from cuml.cluster.hdbscan import approximate_predict
        else:
            from hdbscan import approximate_predict

        raw, strengths = approximate_predict(model.clusterer, reduced)
    else:
        raw, strengths = model.clusterer.predict(reduced), np.ones(len(X))
    return renumber(raw, model.label_map), np.asarray(strengths, dtype=float), reduced


def far_from_run(model: FittedModel, X: np.ndarray) -> np.ndarray:
    """True where an item (embedding row) is farther from every centroid than 95% of the fitted
    items are from their own."""
    from sklearn.metrics import pairwise_distances_argmin_min

    if len(model.centroids) == 0:
        return np.ones(len(X), dtype=bool)
    _, nearest = pairwise_distances_argmin_min(np.asarray(X, dtype=np.float32), model.centroids)
    return nearest > model.far_distance


def drift(model: FittedModel, labels: np.ndarray, X: np.ndarray) -> dict:
    """How far new items (embeddings ``X``, labels as assigned) sit from the run: the share that
    land as outliers, and the share far from every centroid (:func:`far_from_run`)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return {"n_new": 0, "outlier_share": float("nan"), "far_share": float("nan")}
    return {
        "n_new": int(len(labels)),
        "outlier_share": float(np.mean(labels < 0)),
        "far_share": float(np.mean(far_from_run(model, X))),
        "far_distance": model.far_distance,
    }


def drift_warning(report: dict, run_outlier_share: float) -> str | None:
    """A sentence when new items differ from the run's: many more outliers, or many far items.

    By construction 5% of the run's own items are "far"; five times that (25%) is a warning,
    as is an outlier share 15 points above the run's.
    """
    problems = []
    if report["n_new"] and report["far_share"] > FAR_WARNING:
        problems.append(f"{report['far_share']:.0%} of the new items are far from every cluster "
                        f"(5% of the run's own items are)")
    if report["n_new"] and report["outlier_share"] > run_outlier_share + OUTLIER_WARNING:
        problems.append(f"{report['outlier_share']:.0%} land as outliers (the run has {run_outlier_share:.0%})")
    if not problems:
        return None
    return "the new data drift from the run's: " + "; ".join(problems) + ". Consider clustering again."


def save_model(model: FittedModel, run_folder: Path) -> Path | None:
    """Pickle the model beside the run; a custom estimator that cannot be pickled only costs ``transform``."""
    import joblib

    if model.n_fitted > MODEL_SAVE_MAX:
        log.warning("the model was fitted on %d items (more than %d) and is not saved, so this run cannot "
                    "transform new items; fit on a sample (fit_sample) to keep that", model.n_fitted, MODEL_SAVE_MAX)
        return None
    folder = Path(run_folder) / MODEL_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    try:
        joblib.dump(model, path)
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing here
        path.unlink(missing_ok=True)
        log.warning("the fitted model could not be saved (%s); this run cannot transform new items", exc)
        return None
    return path


def load_model(run_folder: Path) -> FittedModel:
    """The run's saved model; only load runs you made (joblib files can run code when loaded)."""
    import joblib

    path = Path(run_folder) / MODEL_FOLDER / MODEL_FILE
    if not path.exists():
        raise SemclustError(
            f"run {Path(run_folder).name} has no saved model ({path}); runs made before semclust 0.2, "
            "label-level runs and runs with unpicklable custom estimators cannot transform new items")
    return joblib.load(path)
