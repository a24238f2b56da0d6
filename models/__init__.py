"""Model files shipped with ContextQL (package data): the default offline embedding model."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_MODEL_DIR = "all-MiniLM-L6-v2-int8"


def bundled_model_path(name: str = DEFAULT_MODEL_DIR) -> Path:
    """Folder of a bundled ONNX model (model.onnx + tokenizer files)."""
    return Path(str(resources.files(__package__) / name))
