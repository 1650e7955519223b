"""CNN image embedders: real torchvision/timm networks on seeded random weights.

No weights are downloaded: published files are stood in for by state dicts of seeded
random networks, saved in the published formats.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torchvision", reason="the image routes need semclust[cnn] (a torchvision built for the installed torch)")

import argparse

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file
from torchvision import transforms as T

from semclust.core.errors import MissingModelError, UnknownBackendError
from semclust.core.imageio import ImageReadError
from semclust.stages.image_embed import ImageEmbedder, embed_paths, image_embedders
from semclust.stages.image_embed.base import EmbeddingShapeError
from semclust.stages.image_embed.cnn import architecture, feature_network
from semclust.stages.image_embed.weights import WeightsError, file_fingerprint, seeded


@pytest.fixture(autouse=True)
def one_thread():
    """Two threads on a shared 2-core machine run many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """No test may see (or depend on) weights cached on this machine."""
    monkeypatch.setenv("SEMCLUST_HOME", str(tmp_path / "semclust"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    sizes = [(40, 60), (64, 64), (50, 30), (80, 45), (33, 70)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]


def small(embedder):
    """Same ResNet-18, 64 x 64 input: keeps the tests fast where the size does not matter."""
    embedder.preprocess = architecture("resnet18").preprocess(64)
    return embedder


def seeded_resnet18(seed, num_classes=1000):
    torch.manual_seed(seed)
    return torchvision.models.resnet18(num_classes=num_classes).eval()


def penultimate(model, batch):
    """Reference ResNet features: the input of ``fc`` (avgpool output), via a hook."""
    captured = {}
    hook = model.fc.register_forward_hook(lambda mod, inp, out: captured.update(x=inp[0]))
    with torch.inference_mode():
        model(batch)
    hook.remove()
    return captured["x"].numpy()


def test_resnet18_real_preprocessing_shape_dtype_name(images):
    embedder = image_embedders.create("cnn:resnet18", weights="random")
    assert isinstance(embedder, ImageEmbedder)
    vectors = embedder.embed_images(images[:2])
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all() and vectors.std() > 0
    assert embedder.name == "cnn:resnet18@random" and embedder.dim == 512


def test_batch_size_does_not_change_features(images):
    embedder = small(image_embedders.create("cnn:resnet18", weights="random", batch_size=2))
    by_two = embedder.embed_images(images)
    embedder.batch_size = 5
    np.testing.assert_allclose(by_two, embedder.embed_images(images), rtol=1e-5, atol=1e-5)


def test_random_weights_are_seeded_and_leave_global_rng_alone(images):
    state = torch.get_rng_state()
    first = small(image_embedders.create("cnn:resnet18", weights="random"))
    second = small(image_embedders.create("cnn:resnet18", weights="random"))
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(first.embed_images(images), second.embed_images(images))
    assert not first.network.training


@pytest.mark.parametrize(
    ("name", "dim", "size"), [("resnet18", 512, 64), ("vgg16", 4096, 32), ("xception", 2048, 71)]
)
def test_features_are_the_classifier_input(name, dim, size):
    """Applying the removed last layer to the embedding gives the original logits."""
    arch = architecture(name)
    model = seeded(arch.build).eval()
    head = model.get_submodule(arch.head)
    batch = torch.randn(2, 3, size, size)
    with torch.inference_mode():
        logits = model(batch)
        network, feature_dim = feature_network(model, arch.head)
        features = network(batch)
        relogits = head(features)
    assert feature_dim == dim and features.shape == (2, dim)
    torch.testing.assert_close(relogits, logits, rtol=1e-4, atol=1e-5)
    if name == "vgg16":
        assert (features >= 0).all()  # fc7 after its ReLU, as Keras' fc2 outputs it


def test_imagenet_preprocessing_matches_classic_torchvision_pipeline():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 500, 3), np.uint8))
    ours = architecture("vgg16").preprocess(None)(image)
    reference = T.Compose(
        [
            T.Resize(256),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )(image)
    assert ours.shape == (3, 224, 224)
    torch.testing.assert_close(ours, reference, atol=2e-2, rtol=0)


def test_xception_uses_keras_input_size_and_scaling():
    image = Image.fromarray(np.full((400, 300, 3), 255, np.uint8))
    tensor = architecture("xception").preprocess(None)(image)
    assert tensor.shape == (3, 299, 299)
    torch.testing.assert_close(tensor, torch.ones_like(tensor))  # 255 -> +1, Keras 'tf' mode


def test_missing_weights_say_which_file_where_and_how(isolated_caches):
    with pytest.raises(MissingModelError) as caught:
        image_embedders.create("cnn:vgg16")
    message = str(caught.value)
    assert "'vgg16-397923af.pth'" in message
    assert str(isolated_caches / "semclust" / "weights" / "vgg16-397923af.pth") in message
    assert str(isolated_caches / "torch" / "hub" / "checkpoints") in message
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in message
    assert "torchvision.models.vgg16(weights='IMAGENET1K_V1')" in message


def test_missing_xception_names_timm_file():
    with pytest.raises(MissingModelError, match=r"(?s)xception-43020ad28\.pth.*legacy_xception"):
        image_embedders.create("cnn:xception")


def test_explicit_weights_path_that_does_not_exist(tmp_path):
    with pytest.raises(MissingModelError, match="weights file not found"):
        image_embedders.create("cnn:resnet18", weights=tmp_path / "nope.pth")


def _save_plain(path, state):
    torch.save(state, path)


def _save_training_checkpoint(path, state):
    """torchvision's reference train.py: {'model': ..., 'args': Namespace, ...}."""
    torch.save({"model": state, "epoch": 3, "args": argparse.Namespace(lr=0.1)}, path)


def _save_data_parallel(path, state):
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)


@pytest.mark.parametrize(
    ("filename", "save"),
    [
        ("w.pth", _save_plain),
        ("w.safetensors", lambda path, state: save_file(state, str(path))),
        ("checkpoint.pth", _save_training_checkpoint),
        ("dp.pth.tar", _save_data_parallel),
    ],
)
def test_weights_file_formats_load_exactly(tmp_path, images, filename, save):
    source = seeded_resnet18(seed=7)
    path = tmp_path / filename
    save(path, {k: v.contiguous() for k, v in source.state_dict().items()})
    embedder = small(image_embedders.create("cnn:resnet18", weights=path))
    assert embedder.name == f"cnn:resnet18@{file_fingerprint(path)}"
    batch = torch.stack([embedder.preprocess(img) for img in images[:2]])
    np.testing.assert_allclose(
        embedder.embed_images(images[:2]), penultimate(source, batch), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("where", ["semclust/weights", "torch/hub/checkpoints"])
def test_published_file_is_found_in_the_caches(isolated_caches, where):
    folder = isolated_caches / where
    folder.mkdir(parents=True)
    torch.save(seeded_resnet18(seed=3).state_dict(), folder / "resnet18-f37072fd.pth")
    embedder = image_embedders.create("cnn:resnet18")
    assert embedder.name == "cnn:resnet18"  # the published weights need no tag


def test_weights_of_another_network_are_refused(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(seeded_resnet18(seed=1).state_dict(), path)
    with pytest.raises(WeightsError, match=r"resnet18\.pth does not fit cnn:resnet50"):
        image_embedders.create("cnn:resnet50", weights=path)


def test_pickled_model_is_not_unpickled(tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(seeded_resnet18(seed=1), path)
    with pytest.raises(WeightsError, match="state_dict"):
        image_embedders.create("cnn:resnet18", weights=path)


def test_unknown_cnn_lists_known_ones():
    with pytest.raises(UnknownBackendError, match="cnn:resnet18-places365"):
        image_embedders.create("cnn:alexnet")


def _places365_checkpoint(path, num_classes=365):
    """The CSAIL file layout: training checkpoint, DataParallel key prefix."""
    model = seeded_resnet18(seed=5, num_classes=num_classes)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 40, "arch": "resnet18", "state_dict": state, "best_prec1": 54.7}, path)
    return model


def test_places365_checkpoint_loads_into_torchvision_resnet18(isolated_caches, images):
    folder = isolated_caches / "semclust" / "weights"
    folder.mkdir(parents=True)
    source = _places365_checkpoint(folder / "resnet18_places365.pth.tar")
    embedder = image_embedders.create("cnn:resnet18-places365")
    assert embedder.name == "cnn:resnet18-places365" and embedder.dim == 512
    batch = torch.stack([embedder.preprocess(img) for img in images[:2]])
    np.testing.assert_allclose(
        embedder.embed_images(images[:2]), penultimate(source, batch), rtol=1e-5, atol=1e-6
    )


def test_places365_refuses_a_1000_class_checkpoint(tmp_path):
    path = tmp_path / "resnet18_places365.pth.tar"
    _places365_checkpoint(path, num_classes=1000)
    with pytest.raises(WeightsError, match="expected 365 classes, found 1000"):
        image_embedders.create("cnn:resnet18-places365", weights=path)


def test_places365_missing_says_where_to_get_it():
    with pytest.raises(
        MissingModelError, match=r"(?s)places2\.csail\.mit\.edu.*resnet18_places365"
    ):
        image_embedders.create("cnn:resnet18-places365")


def test_embed_paths_batches_files_in_order(tmp_path, images):
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        img.save(paths[-1])
    embedder = small(image_embedders.create("cnn:resnet18", weights="random"))
    vectors = embed_paths(embedder, paths, batch_size=2, progress=False)
    np.testing.assert_allclose(vectors, embedder.embed_images(images), rtol=1e-5, atol=1e-5)
    assert embed_paths(embedder, [], progress=False).shape == (0, 512)


def test_embed_paths_names_an_unreadable_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    embedder = image_embedders.create("cnn:resnet18", weights="random")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        embed_paths(embedder, [bad], progress=False)


class WrongShape:
    name, dim = "fake", 3

    def embed_images(self, images):
        return np.zeros((len(images), 2), np.float32)


def test_embed_paths_refuses_wrong_shapes(tmp_path, images):
    images[0].save(tmp_path / "a.png")
    with pytest.raises(EmbeddingShapeError, match=r"shape \(1, 2\).*expected \(1, 3\)"):
        embed_paths(WrongShape(), [tmp_path / "a.png"], progress=False)
