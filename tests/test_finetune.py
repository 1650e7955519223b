"""Fine-tuning a multi-label CNN (Casas et al. 2.2) end to end on generated images.

40 small images, each a red or blue circle or square on a noisy grey background,
labelled ``red`` and ``circle``. A randomly initialised ResNet-18 is fine-tuned at
32 x 32 on the CPU; its penultimate features must then separate the four label
combinations better than before training.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torchvision", reason="the image routes need semclust[cnn] (a torchvision built for the installed torch)")

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw
from sklearn.metrics import silhouette_score

from semclust.core.errors import MissingModelError, SemclustError
from semclust.stages.image_embed import embed_paths, image_embedders
from semclust.stages.image_embed.cnn import architecture
from semclust.stages.image_embed.finetune import (
    LabelFileError,
    finetune,
    read_finetuned,
    read_labels,
)
from semclust.stages.image_embed.weights import WeightsError

SIZE = 32


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Two threads on a shared 2-core machine train many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def draw(rng, red: int, circle: int) -> Image.Image:
    image = Image.fromarray(rng.integers(90, 165, (48, 48, 3), dtype=np.uint8))
    strong, weak = int(rng.integers(180, 256)), (int(rng.integers(0, 60)), int(rng.integers(0, 60)))
    colour = (strong, *weak) if red else (*weak, strong)
    side = int(rng.integers(22, 30))
    x, y = (int(v) for v in rng.integers(8, 40 - side, 2))
    shape = ImageDraw.Draw(image).ellipse if circle else ImageDraw.Draw(image).rectangle
    shape([x, y, x + side, y + side], fill=colour)
    return image


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        red, circle = i % 2, (i // 2) % 2
        draw(rng, red, circle).save(folder / f"{i}.png")
        rows.append({"id": f"img{i}", "image": f"{i}.png", "red": red, "circle": circle})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder / "labels.csv"


def separation(embedder, csv_path) -> float:
    """Silhouette of the four (red, circle) groups in the embedding (cosine distance)."""
    paths, _, y = read_labels(csv_path)
    vectors = embed_paths(embedder, paths, progress=False)
    return silhouette_score(vectors, y[:, 0] * 2 + y[:, 1], metric="cosine")


@pytest.fixture(scope="module")
def trained(labelled):
    out = finetune(
        labelled,
        out_path=labelled.parent / "model" / "ft.pt",
        base="cnn:resnet18",
        weights="random",
        epochs=8,
        lr=0.005,
        batch_size=8,
        image_size=SIZE,
        seed=0,
        progress=False,
    )
    return out


@pytest.mark.slow
def test_finetuning_lowers_the_loss_and_separates_the_labels(labelled, trained):
    content = read_finetuned(trained)
    assert content["labels"] == ["red", "circle"] and content["base"] == "cnn:resnet18"
    losses = content["losses"]
    assert len(losses) == 8 and losses[-1] < 0.6 * losses[0]

    before = image_embedders.create("cnn:resnet18", weights="random")
    before.preprocess = architecture("resnet18").preprocess(SIZE)
    after = image_embedders.create(f"finetuned:{trained}")
    assert after.dim == 512 and after.name.startswith(f"finetuned:{trained}@")
    assert separation(after, labelled) > separation(before, labelled) + 0.1


@pytest.mark.slow
def test_finetuned_network_predicts_its_labels(labelled, trained):
    """The saved head, put back on the embeddings, predicts the labels it was trained on."""
    content = read_finetuned(trained)
    embedder = image_embedders.create(f"finetuned:{trained}")
    paths, _, y = read_labels(labelled)
    features = torch.from_numpy(embed_paths(embedder, paths, progress=False))
    logits = features @ content["state_dict"]["fc.weight"].T + content["state_dict"]["fc.bias"]
    accuracy = ((logits.numpy() > 0) == (y > 0.5)).mean(axis=0)
    assert accuracy[0] > 0.9  # colour is learnt first; shape needs more epochs than a test has


def test_read_labels_resolves_paths_and_accepts_booleans(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    pd.DataFrame({"image": ["a.png", "/abs/b.png"], "x": [True, False], "y": [0, 1]}).to_csv(
        tmp_path / "l.csv", index=False
    )
    paths, names, y = read_labels(tmp_path / "l.csv")
    assert paths == [tmp_path / "a.png", Path("/abs/b.png")]
    assert names == ["x", "y"]
    np.testing.assert_array_equal(y, [[1, 0], [0, 1]])
    assert y.dtype == np.float32


@pytest.mark.parametrize(
    ("table", "labels", "message"),
    [
        ({"path": ["a"], "x": [1]}, None, "no 'image' column"),
        ({"image": ["a", "b"], "x": [1, 2]}, None, r"data row 2, column 'x'.*got '2'"),
        ({"image": ["a", "b"], "x": [1, None]}, None, r"data row 2, column 'x'"),
        ({"image": ["a", "b"], "x": [1, 0]}, ["z"], r"\['z'\] not found"),
        ({"image": ["a", "b"], "id": [1, 2]}, None, "not found"),
        ({"image": ["a"], "x": [1]}, None, "need at least 2"),
        ({"image": ["a", None], "x": [1, 0]}, None, "data row 2: empty 'image' path"),
    ],
)
def test_bad_label_files_are_refused(tmp_path, table, labels, message):
    pd.DataFrame(table).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(LabelFileError, match=message):
        read_labels(tmp_path / "l.csv", labels)


def test_unreadable_training_image_names_its_row(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"junk")
    pd.DataFrame({"image": ["bad.png", "bad.png"], "x": [0, 1]}).to_csv(
        tmp_path / "l.csv", index=False
    )
    with pytest.raises(LabelFileError, match=r"data row 1, image .*bad\.png"):
        finetune(tmp_path / "l.csv", out_path=tmp_path / "o.pt", weights="random", progress=False)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"base": "clip:ViT-B-32"}, SemclustError),
        ({"epochs": 0}, ValueError),
        ({"lr": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"image_size": 8}, ValueError),
    ],
)
def test_bad_training_parameters(labelled, tmp_path, options, error):
    with pytest.raises(error):
        finetune(labelled, out_path=tmp_path / "o.pt", weights="random", progress=False, **options)


def test_finetuned_spec_errors(tmp_path, trained):
    with pytest.raises(MissingModelError, match="not found"):
        image_embedders.create(f"finetuned:{tmp_path / 'nope.pt'}")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="not written by semclust"):
        image_embedders.create(f"finetuned:{tmp_path / 'other.pt'}")
    with pytest.raises(SemclustError, match="do not set weights"):
        image_embedders.create(f"finetuned:{trained}", weights="random")


def test_cli_finetune_then_cluster_with_the_finetuned_embedder(labelled, tmp_path):
    from typer.testing import CliRunner

    from semclust.cli import app
    from semclust.study.runs import Run

    model = tmp_path / "ft.pt"
    result = CliRunner().invoke(app, [
        "finetune", str(labelled), "--out", str(model), "--weights", "random", "--epochs", "1",
        "--batch-size", "8", "--image-size", str(SIZE), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    assert model.exists()
    study = tmp_path / "study"
    result = CliRunner().invoke(app, [
        "run", str(labelled), "--out", str(study), "--describer", "none", "--route", "image",
        "--image-embedder", f"finetuned:{model}", "--reducer", "pca:4", "--clusterer", "kmeans:4",
        "--map", "none", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    run = Run.load(study)
    assert run.assignments["cluster"].notna().all() and run.assignments["cluster"].nunique() == 4
    assert run.config["image_embedder"] == f"finetuned:{model}"
