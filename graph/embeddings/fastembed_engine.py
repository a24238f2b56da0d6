"""fastembed (ONNX Runtime, no torch): the bundled offline model or any fastembed model by name."""

from __future__ import annotations

import os
from pathlib import Path

# The name fastembed knows for mean pooling + L2 normalisation over `model.onnx`.
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"


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
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [vector.tolist() for vector in self._model.embed(texts, batch_size=64)]
