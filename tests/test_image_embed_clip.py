"""CLIP embedder on a tiny open_clip configuration with seeded random weights."""

from __future__ import annotations

import pytest

pytest.importorskip("open_clip", reason="the image routes need semclust[clip] (a torchvision built for the installed torch)")

import json

import numpy as np
import open_clip
import torch
from PIL import Image
from safetensors.torch import save_file

from semclust.core.errors import MissingModelError, UnknownBackendError
from semclust.stages.image_embed import TextImageEmbedder, image_embedders
from semclust.stages.image_embed.clip import weight_file
from semclust.stages.image_embed.weights import WeightsError, file_fingerprint, resolve_weights

TINY = "semclust-test-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
TEXTS = ["a protest in the street", "wind turbines", "a cat", "", "solar panels on a roof"]


@pytest.fixture(scope="module", autouse=True)
def tiny_config(tmp_path_factory):
    """Register a 2-layer CLIP with open_clip, as a user's own config file would be."""
    path = tmp_path_factory.mktemp("clip") / f"{TINY}.json"
    path.write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(path)


@pytest.fixture(autouse=True)
def one_thread_and_isolated_caches(tmp_path, monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("SEMCLUST_HOME", str(tmp_path / "semclust"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf"))
    yield tmp_path
    torch.set_num_threads(before)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (30 + 7 * i, 40, 3), np.uint8)) for i in range(5)]


def tiny(**options):
    return image_embedders.create(f"clip:{TINY}", weights="random", **options)


def test_images_and_texts_share_one_normalised_space(images):
    embedder = tiny()
    assert isinstance(embedder, TextImageEmbedder)
    image_vectors = embedder.embed_images(images)
    text_vectors = embedder.embed_texts(TEXTS)
    assert embedder.dim == 32 and embedder.name == f"clip:{TINY}@random"
    assert image_vectors.shape == (5, 32) and text_vectors.shape == (5, 32)
    assert image_vectors.dtype == text_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(image_vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text_vectors, axis=1), 1, atol=1e-5)


def test_matches_open_clip_encoders(images):
    """Same numbers as calling open_clip by hand with the same seed."""
    embedder = tiny()
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(TINY)
    model.eval()
    with torch.inference_mode():
        ref_images = model.encode_image(
            torch.stack([preprocess(i) for i in images]), normalize=True
        )
        ref_texts = model.encode_text(open_clip.get_tokenizer(TINY)(TEXTS), normalize=True)
    np.testing.assert_allclose(embedder.embed_images(images), ref_images.numpy(), atol=1e-5)
    np.testing.assert_allclose(embedder.embed_texts(TEXTS), ref_texts.numpy(), atol=1e-5)


def test_batch_size_does_not_change_results(images):
    by_two, by_five = tiny(batch_size=2), tiny(batch_size=5)
    np.testing.assert_allclose(by_two.embed_images(images), by_five.embed_images(images), atol=1e-5)
    np.testing.assert_allclose(by_two.embed_texts(TEXTS), by_five.embed_texts(TEXTS), atol=1e-5)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_weights_file_is_loaded(tmp_path, images, suffix):
    torch.manual_seed(11)
    source = open_clip.create_model(TINY).eval()
    path = tmp_path / f"tiny{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    embedder = image_embedders.create(f"clip:{TINY}", weights=path)
    assert embedder.name == f"clip:{TINY}@{file_fingerprint(path)}"
    with torch.inference_mode():
        expected = source.encode_text(open_clip.get_tokenizer(TINY)(TEXTS[:2]), normalize=True)
    np.testing.assert_allclose(embedder.embed_texts(TEXTS[:2]), expected.numpy(), atol=1e-5)
    assert not np.allclose(embedder.embed_texts(TEXTS[:2]), tiny().embed_texts(TEXTS[:2]))


def test_weights_of_another_model_are_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, path)
    with pytest.raises(WeightsError, match="other.pt does not fit"):
        image_embedders.create(f"clip:{TINY}", weights=path)


def test_model_without_published_weights_needs_a_file():
    with pytest.raises(MissingModelError, match="weights=PATH"):
        image_embedders.create(f"clip:{TINY}")


def test_tag_sets_preprocessing_and_activation():
    """Without a tag, ViT-B/32 means the OpenAI weights: their mean/std and QuickGELU."""
    embedder = image_embedders.create("clip:ViT-B/32", weights="random")
    assert embedder.name == "clip:ViT-B-32:openai@random" and embedder.dim == 512
    normalize = embedder.preprocess.transforms[-1]
    assert tuple(normalize.mean) == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    activations = {type(m).__name__ for m in embedder.network.modules()}
    assert "QuickGELU" in activations


def test_missing_published_weights_message(one_thread_and_isolated_caches):
    with pytest.raises(MissingModelError) as caught:
        image_embedders.create("clip:ViT-B-32:openai")
    message = str(caught.value)
    expected_file = (
        one_thread_and_isolated_caches / "semclust/weights/open_clip_ViT-B-32_openai.safetensors"
    )
    assert str(expected_file) in message
    assert (
        "https://huggingface.co/timm/vit_base_patch32_clip_224.openai/resolve/main/"
        "open_clip_model.safetensors" in message
    )
    assert "open_clip.create_model('ViT-B-32', pretrained='openai')" in message


def test_published_weights_are_found_in_the_hugging_face_cache(one_thread_and_isolated_caches):
    """The layout huggingface_hub writes: models--ORG--NAME/snapshots/REV, refs/main."""
    repo = one_thread_and_isolated_caches / "hf" / "models--timm--vit_base_patch32_clip_224.openai"
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    cfg = open_clip.get_pretrained_cfg("ViT-B-32", "openai")
    found = resolve_weights("clip:ViT-B-32:openai", weight_file("ViT-B-32", "openai", cfg), None)
    assert found == snapshot / "open_clip_model.safetensors"


@pytest.mark.parametrize(
    ("spec", "message"),
    [("clip:NoSuchNet", "unknown CLIP model"), ("clip:ViT-B-32:nope", "laion2b_s34b_b79k")],
)
def test_unknown_model_or_tag(spec, message):
    with pytest.raises(UnknownBackendError, match=message):
        image_embedders.create(spec)
