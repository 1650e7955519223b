"""Text embedders, chosen by name (``st:all-MiniLM-L6-v2``, ``tfidf:20``, ``openai:MODEL``)."""

from __future__ import annotations

from semclust.core.registry import Registry
from semclust.stages.embed.base import TextEmbedder

#: ``column:NAME`` and ``npy:FILE`` (vectors made elsewhere) are read by the study
#: (semclust.stages.embed.precomputed), not built here.
text_embedders = Registry("text_embedder", handled_elsewhere=("column", "npy"))
text_embedders.register("st", "semclust.stages.embed.sentence_transformers_backend:SentenceTransformerEmbedder.from_spec")
text_embedders.register("tfidf", "semclust.stages.embed.tfidf:TfidfTopKEmbedder.from_spec",
                        check="semclust.stages.embed.tfidf:top_k_arg")
text_embedders.register("onnx", "semclust.stages.embed.onnx_backend:OnnxEmbedder.from_spec")
text_embedders.register("openai", "semclust.stages.embed.openai_embeddings:OpenAIEmbedder.from_spec")


def create_text_embedder(spec: str, **options) -> TextEmbedder:
    return text_embedders.create(spec, **options)


__all__ = ["TextEmbedder", "create_text_embedder", "text_embedders"]
