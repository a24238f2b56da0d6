"""fastembed (ONNX Runtime, no torch): the bundled offline model or any fastembed model by name."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

# The name fastembed knows for mean pooling + L2 normalisation over `model.onnx`.
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# ONNX Runtime's pool threads spin after every run by default, waiting for the next one. A server embeds
# one query now and then, so they burned a core between queries (measured in the server: about 17 ms of
# CPU per DENSE request against about 2 ms for the embedding itself, bench/results/search-cpu-2026-12-01.md).
NO_SPINNING = {"session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0"}

logger = logging.getLogger("contextql.search")


class FastEmbedder:
    def __init__(self, model_name: str | None = None, *, model_path: Path | None = None,
                 cache_dir: Path | None = None, threads: int | None = None) -> None:
        if model_name is None and model_path is None:
            from contextql.models import bundled_model_path

            model_path = bundled_model_path()
        if model_path is not None:
            # A local model never needs the hub; make sure nothing tries.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from fastembed import TextEmbedding

        self.name = model_name or BUNDLED_NAME
        kwargs: dict = {"threads": threads}
        if model_path is not None:
            kwargs["specific_model_path"] = str(model_path)
        if cache_dir is not None:
            kwargs["cache_dir"] = str(cache_dir)
        self._model = TextEmbedding(model_name=self.name, **kwargs)
        without_spinning(self._model)
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [vector.tolist() for vector in self._model.embed(texts, batch_size=64)]

    def session(self) -> Any:
        """The ONNX Runtime session (for tests and benchmarks)."""
        inner: Any = self._model.model
        return inner.model


def without_spinning(model: Any) -> bool:
    """Reopen the ONNX session of a fastembed `TextEmbedding` with its pool threads' spinning off.

    fastembed passes no session config entries through (only `enable_cpu_mem_arena`), so the session it
    made is replaced by one with the same options, model file and providers plus `NO_SPINNING`; its
    tokenizer and pooling stay fastembed's. False (and the spinning session kept) where a fastembed or
    ONNX Runtime version lays this out differently."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    inner: Any = getattr(model, "model", None)
    session = getattr(inner, "model", None)
    path = getattr(session, "_model_path", None)
    if not isinstance(session, ort.InferenceSession) or not path:
        logger.warning("embedder: could not turn ONNX Runtime's thread spinning off (fastembed's session not found)")
        return False
    options = session.get_session_options()
    for key, value in NO_SPINNING.items():
        options.add_session_config_entry(key, value)
    inner.model = ort.InferenceSession(path, sess_options=options, providers=session.get_providers())
    return True
