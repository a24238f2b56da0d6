"""The embedder interface: synchronous, batch in, unit-length vectors out."""

from __future__ import annotations

from typing import Protocol


class Embedder(Protocol):
    """Turns texts into vectors of `dim` floats. Calls block: run them off the event loop."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]:
        ...
