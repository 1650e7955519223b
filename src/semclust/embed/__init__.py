"""Text embedders, chosen by name (``st:all-MiniLM-L6-v2``, ``tfidf:20``, ``openai:MODEL``)."""

from __future__ import annotations

from ..registry import Registry
from .base import TextEmbedder

text_embedders = Registry("text_embedder")
text_embedders.register("st", "semclust.embed.sentence_transformers_backend:SentenceTransformerEmbedder.from_spec")
text_embedders.register("tfidf", "semclust.embed.tfidf:TfidfTopKEmbedder.from_spec")
text_embedders.register("onnx", "semclust.embed.onnx_backend:OnnxEmbedder.from_spec")
text_embedders.register("openai", "semclust.embed.openai_embeddings:OpenAIEmbedder.from_spec")


def create_text_embedder(spec: str, **options) -> TextEmbedder:
    return text_embedders.create(spec, **options)


__all__ = ["TextEmbedder", "create_text_embedder", "text_embedders"]
