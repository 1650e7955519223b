"""Image, vector-level, joint and label-level routes (zhang-leung §3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from semclust.core.errors import SemclustError
from semclust.study.config import RunConfig
from semclust.study.pipeline import cluster_run, label_run
from semclust.study.routes import combine_labels, concatenate_blocks, modality_agreement
from semclust.study.workspace import Study


def test_combine_labels_hand_worked():
    text = np.array([0, 0, 0, 1, 1, 1, -1, 0])
    image = np.array([0, 0, 1, 1, 1, 0, 0, -1])
    # pairs: (0,0) x2, (0,1) x1, (1,1) x2, (1,0) x1, two outliers
    combined, lost = combine_labels(text, image)
    assert combined.tolist() == [0, 0, 2, 1, 1, 3, -1, -1]  # numbered by size, ties by pair
    assert lost == 0.0
    pruned, lost = combine_labels(text, image, keep=2)
    assert pruned.tolist() == [0, 0, -1, 1, 1, -1, -1, -1]
    assert lost == pytest.approx(2 / 8)


def test_concatenate_blocks_aligns_ids_and_normalises_each_block():
    t_ids, i_ids = pd.Index(["a", "b", "c"]), pd.Index(["c", "a"])
    text = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    image = np.array([[0.0, 0.0, 5.0], [2.0, 0.0, 0.0]])
    ids, X = concatenate_blocks(t_ids, text, i_ids, image, image_weight=0.5)
    assert ids.tolist() == ["a", "c"]
    np.testing.assert_allclose(X, [[0.6, 0.8, 0.5, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.5]])
    with pytest.raises(SemclustError):
        concatenate_blocks(pd.Index(["x"]), text[:1], i_ids, image)


def test_modality_agreement_reading():
    same = np.repeat([0, 1, 2], 20)
    assert modality_agreement(same, same)["ami_text_image"] == pytest.approx(1.0)
    assert "label-level combination already" in modality_agreement(same, same)["reading"]
    rng = np.random.default_rng(0)
    independent = modality_agreement(rng.integers(0, 3, 600), rng.integers(0, 3, 600))
    assert independent["ami_text_image"] < 0.05
    assert "joint route" in independent["reading"]


@pytest.fixture(scope="module")
def demo_study(tmp_path_factory):
    from semclust.study.demo_corpus import make_demo_corpus

    folder = tmp_path_factory.mktemp("routes")
    csv = make_demo_corpus(folder / "corpus", n_per_theme=6, seed=2)
    study = Study(folder / "study")
    study.ingest(csv, progress=False)
    study.describe("column:alt_text")
    return study


def _config(**kwargs):
    base = dict(embedder="tfidf:10", reducer="pca:5", clusterer="kmeans:6", map="none",
                image_embedder="cnn:resnet18", image_weights="random")
    return RunConfig(**(base | kwargs))


def test_image_route_uses_every_readable_image_and_caches_per_file(demo_study, monkeypatch):
    run = cluster_run(demo_study, _config(route="image"), progress=False)
    items = demo_study.items()
    clustered = run.assignments.dropna(subset=["cluster"])
    assert set(clustered["id"]) == set(items.loc[items["status"] == "ok", "id"])
    # a second run finds every vector in the cache: the network is never called
    backend = demo_study.image_embedder("cnn:resnet18", "random")
    monkeypatch.setattr(backend, "embed_images", lambda images: pytest.fail("cache miss"))
    again = cluster_run(demo_study, _config(route="image"), progress=False)
    pd.testing.assert_series_equal(run.assignments["cluster"], again.assignments["cluster"])
    labelled = label_run(again)
    assert all(len(k) > 0 for k in labelled.clusters["keywords"])  # keywords from the descriptions


def test_concat_route_with_zero_image_weight_is_the_text_route(demo_study):
    text = cluster_run(demo_study, _config(route="text", embedder="st:all-MiniLM-L6-v2"), progress=False)
    concat = cluster_run(demo_study, _config(route="concat", embedder="st:all-MiniLM-L6-v2", image_weight=0.0),
                         progress=False)
    a = text.assignments.dropna(subset=["cluster"])
    b = concat.assignments.dropna(subset=["cluster"])
    assert a["id"].tolist() == b["id"].tolist()
    assert adjusted_mutual_info_score(a["cluster"].astype(int), b["cluster"].astype(int)) == pytest.approx(1.0)
    assert adjusted_mutual_info_score(a["theme"], a["cluster"].astype(int)) >= 0.7


@pytest.mark.slow
def test_labels_route_is_combine_labels_of_the_separate_text_and_image_runs(demo_study):
    text = cluster_run(demo_study, _config(route="text", clusterer="kmeans:3"), progress=False)
    image = cluster_run(demo_study, _config(route="image", clusterer="kmeans:3"), progress=False)
    both = cluster_run(demo_study, _config(route="labels", clusterer="kmeans:3"), progress=False)
    t = text.clustered().set_index("id")["cluster"].astype(int)
    i = image.clustered().set_index("id")["cluster"].astype(int)
    common = t.index.intersection(i.index)
    assert len(common) == len(t) == len(i)  # the demo's described items are its readable images
    expected, lost = combine_labels(t[common].to_numpy(), i[common].to_numpy())
    got = both.clustered().set_index("id")["cluster"].astype(int)[common].to_numpy()
    assert adjusted_rand_score(got, expected) == pytest.approx(1.0)  # the same groups
    assert sorted(np.bincount(got)) == sorted(np.bincount(expected))
    assert lost == both.metrics["pruned_share"] == 0.0
    assert both.metrics["ami_text_image"] == pytest.approx(
        adjusted_mutual_info_score(t[common], i[common], average_method="max")
    )
    pruned = cluster_run(demo_study, _config(route="labels", clusterer="kmeans:3", keep_groups=4),
                         progress=False)  # fmt: skip
    kept, lost = combine_labels(t[common].to_numpy(), i[common].to_numpy(), keep=4)
    assert pruned.metrics["pruned_share"] == pytest.approx(lost)
    labels = pruned.clustered().set_index("id")["cluster"].astype(int)[common].to_numpy()
    assert sorted(np.bincount(labels[labels >= 0])) == sorted(np.bincount(kept[kept >= 0]))


def test_clip_route_needs_a_clip_embedder(demo_study):
    with pytest.raises(SemclustError, match="clip"):
        cluster_run(demo_study, _config(route="clip"), progress=False)


def test_clip_route_joins_image_and_post_text_vectors(demo_study, tmp_path):
    import json

    open_clip = pytest.importorskip("open_clip")
    from semclust.study.routes import clip_features

    config_path = tmp_path / "semclust-route-tiny-clip.json"  # a tiny CLIP so the test runs in seconds
    config_path.write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }))
    open_clip.add_model_config(config_path)
    config = _config(route="clip", image_embedder="clip:semclust-route-tiny-clip", text_column="text")
    ids, X = clip_features(demo_study, config, progress=False)
    items = demo_study.items()
    with_both = items[(items["status"] == "ok") & (items["text"].str.strip() != "")]
    assert set(ids) == set(with_both["id"])
    assert X.shape == (len(ids), 32)  # 16-d image vector beside the 16-d text vector (zhang-leung's concat)
    np.testing.assert_allclose(np.linalg.norm(X[:, :16], axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(X[:, 16:], axis=1), 1.0, rtol=1e-5)
    from dataclasses import replace

    _, mean = clip_features(demo_study, replace(config, clip_combine="mean"), progress=False)
    summed = X[:, :16] + X[:, 16:]
    np.testing.assert_allclose(mean, summed / np.linalg.norm(summed, axis=1, keepdims=True), rtol=1e-5)
