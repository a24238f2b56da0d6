"""Choose the embedder from configuration."""

from __future__ import annotations

from pathlib import Path

from .base import Embedder


def make_embedder(kind: str, *, model: str | None = None, url: str | None = None, api_key: str | None = None,
                  cache_dir: Path | None = None, threads: int | None = None) -> Embedder:
    """`fastembed` (bundled model unless `model` names another) or `openai` (an HTTP endpoint at `url`)."""
    if kind == "openai":
        from .http_engine import HttpEmbedder

        if not url or not model:
            raise ValueError("the openai embedder needs CONTEXTQL_EMBEDDING_URL and CONTEXTQL_EMBEDDING_MODEL")
        return HttpEmbedder(url, model, api_key=api_key)
    if kind != "fastembed":
        raise ValueError(f"unknown embedder {kind!r}: use fastembed or openai")
    from .fastembed_engine import FastEmbedder

    if model and Path(model).is_dir():
        return FastEmbedder(model_path=Path(model), cache_dir=cache_dir, threads=threads)
    return FastEmbedder(model or None, cache_dir=cache_dir, threads=threads)
