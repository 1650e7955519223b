"""Routes: which vectors a run clusters (zhang-leung §3).

- ``text``: the descriptions (or any text column) through a text embedder; the papers' route.
- ``image``: the pixels through a CNN/CLIP image embedder; the CNN baseline.
- ``concat``: vector-level combination, text and image vectors, each block L2-normalised per
  row, the image block multiplied by ``image_weight``, side by side.
- ``clip``: joint embedding, CLIP image and CLIP text vectors of the same post (one space):
  side by side as zhang-leung did (512 + 512 = their 1024 dimensions for ViT-B-32), or
  averaged and re-normalised (``clip_combine="mean"``).
- ``labels``: label-level combination, text and image clustered separately and each item's
  pair of labels made one group (see :func:`combine_labels`); built in :mod:`semclust.study.pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score
from sklearn.preprocessing import normalize

from semclust.core.errors import SemclustError

if TYPE_CHECKING:
    from semclust.study.config import RunConfig
    from semclust.study.study_data import StudyData

ROUTES = ("text", "image", "concat", "clip", "labels")


def text_features(study: StudyData, config: RunConfig, progress: bool) -> tuple[pd.Index, np.ndarray]:
    from semclust.stages.embed.precomputed import is_precomputed, precomputed_vectors

    if is_precomputed(config.embedder):  # vectors made elsewhere: no descriptions needed
        return precomputed_vectors(study.items(), study.folder, config.embedder)
    texts = study.descriptions().dropna()
    if texts.empty:
        raise SemclustError("no item has a description: run `semclust describe` first")
    backend = None
    if config.engine == "ray":  # same vectors, same cache key; computed on a Ray cluster
        from semclust.stages.embed.ray_engine import RayEmbedder

        backend = RayEmbedder(config.embedder, address=config.engine_address)
    return texts.index, study.embed_texts(texts.tolist(), config.embedder, progress, backend=backend)


def image_features(study: StudyData, config: RunConfig, progress: bool) -> tuple[pd.Index, np.ndarray]:
    return study.embed_images(config.image_embedder, weights=config.image_weights, progress=progress)


def concat_features(study: StudyData, config: RunConfig, progress: bool) -> tuple[pd.Index, np.ndarray]:
    t_ids, txt = text_features(study, config, progress)
    i_ids, img = image_features(study, config, progress)
    return concatenate_blocks(t_ids, txt, i_ids, img, config.image_weight)


def concatenate_blocks(t_ids: pd.Index, txt: np.ndarray, i_ids: pd.Index, img: np.ndarray,
                       image_weight: float = 1.0) -> tuple[pd.Index, np.ndarray]:
    """Rows present in both blocks, each block unit-length per row so neither dominates by scale."""
    if image_weight < 0:
        raise SemclustError(f"image_weight must be >= 0, got {image_weight}")
    common = t_ids.intersection(i_ids, sort=False)
    if common.empty:
        raise SemclustError("no item has both a text and an image embedding")
    txt = normalize(txt[t_ids.get_indexer(common)])
    img = normalize(img[i_ids.get_indexer(common)]) * image_weight
    return common, np.hstack([txt, img]).astype(np.float32)


def clip_features(study: StudyData, config: RunConfig, progress: bool) -> tuple[pd.Index, np.ndarray]:
    """CLIP image and text vectors of each post (the image embedder is a ``clip:`` one: checked
    with every other name before the run starts, :func:`semclust.study.spec_check.check_run_config`)."""
    i_ids, img = image_features(study, config, progress)
    texts = study.joint_texts(config.text_column).dropna()
    common = i_ids.intersection(texts.index, sort=False)
    if common.empty:
        raise SemclustError("no item has both an image and a text for the clip route")
    txt = study.embed_texts(texts[common].tolist(), f"clip-text:{config.image_embedder}", progress,
                          backend=study.image_embedder(config.image_embedder, config.image_weights))
    img, txt = normalize(img[i_ids.get_indexer(common)]), normalize(txt)
    if config.clip_combine == "concat":
        return common, np.hstack([img, txt]).astype(np.float32)
    if config.clip_combine == "mean":
        return common, normalize(img + txt).astype(np.float32)
    raise SemclustError(f"clip_combine must be concat or mean, got {config.clip_combine!r}")


FEATURES = {"text": text_features, "image": image_features, "concat": concat_features, "clip": clip_features}


def route_features(study: StudyData, config: RunConfig, progress: bool = True) -> tuple[pd.Index, np.ndarray]:
    if config.route not in FEATURES:
        raise SemclustError(f"route must be one of {', '.join(FEATURES)}, got {config.route!r}")
    return FEATURES[config.route](study, config, progress)


def combine_labels(text_labels: np.ndarray, image_labels: np.ndarray, keep: int | None = None):
    """Label-level combination: one group per (text cluster, image cluster) pair.

    Items that are an outlier in either modality are outliers (-1).  With ``keep``, only
    the ``keep`` largest groups survive and the rest become -1 (pruning, zhang-leung §3.4.4);
    the share of items lost that way is returned with the labels.  Groups are numbered by
    size, largest first.
    """
    text_labels, image_labels = np.asarray(text_labels), np.asarray(image_labels)
    if text_labels.shape != image_labels.shape:
        raise SemclustError("text and image labels differ in length")
    valid = (text_labels >= 0) & (image_labels >= 0)
    pairs = pd.Series(list(zip(text_labels, image_labels, strict=True)))
    sizes = pairs[valid].value_counts(sort=False)
    order = sorted(sizes.index, key=lambda p: (-sizes[p], p))
    kept = order if keep is None else order[:keep]
    number = {p: i for i, p in enumerate(kept)}
    combined = np.array([number.get(p, -1) if ok else -1 for p, ok in zip(pairs, valid, strict=True)])
    pruned = int(valid.sum() - (combined >= 0).sum())
    return combined, pruned / len(combined) if len(combined) else 0.0


#: AMI normaliser of the diagnostic: max{H(T), H(I)}, Zhang & Leung's appendix A.1.
PAPER_AMI_FORM = "max"
#: Where the diagnostic's wording changes. Not from the paper, which gives no cut-offs: it
#: reports 0.029 on CASM, where joint clustering helped, and 0.166 (K = 5 per modality) on
#: BU-NEmo, where it "will be rather limited"; 0.1 lies between those two cases, and 0.5 (half
#: of the attainable information above chance) is semclust's own line for "high".
READING_THRESHOLDS = (0.1, 0.5)


def modality_agreement(text_labels: np.ndarray, image_labels: np.ndarray) -> dict:
    """The AMI diagnostic between text-only and image-only clusterings (zhang-leung §3.3, A.1).

    ``ami_text_image`` is the paper's max-normalised AMI with outliers (-1) as one more
    label; ``ami_text_image_without_outliers`` leaves out items that are an outlier in
    either modality (their number in ``n_outlier_items``); ``ami_text_image_arithmetic`` is
    the mean-normalised form scikit-learn uses by default. The reading uses the first.
    """
    text_labels, image_labels = np.asarray(text_labels), np.asarray(image_labels)
    ami = _ami(text_labels, image_labels, PAPER_AMI_FORM)
    clustered = (text_labels >= 0) & (image_labels >= 0)
    low, high = READING_THRESHOLDS
    if ami < low:
        reading = ("near 0: text and image carry different information; separate clusterings do not "
                   "predict each other, so use a joint route (concat or clip) rather than label-level combination")
    elif ami < high:
        reading = ("moderate: the modalities overlap partly; joint routes are likely to find larger, "
                   "more coherent clusters than label-level combination")
    else:
        reading = ("high: each text cluster largely predicts its image cluster; label-level combination "
                   "already captures the joint structure")
    cutoffs = f"(cut-offs {low} and {high} are semclust's, not the paper's; see docs/routes.md)"
    return {
        "ami_text_image": ami,
        "ami_form": f"{PAPER_AMI_FORM} (Zhang & Leung A.1), outliers as one more label",
        "ami_text_image_without_outliers": (
            _ami(text_labels[clustered], image_labels[clustered], PAPER_AMI_FORM)
            if clustered.any() else None
        ),
        "ami_text_image_arithmetic": _ami(text_labels, image_labels, "arithmetic"),
        "n_outlier_items": int((~clustered).sum()),
        "reading": f"{reading} {cutoffs}",
    }


def _ami(a: np.ndarray, b: np.ndarray, form: str) -> float:
    return float(adjusted_mutual_info_score(a, b, average_method=form))
