"""An OpenAI-compatible `/v1/embeddings` endpoint: OpenAI, Ollama, vLLM, TEI, LocalAI, ..."""

from __future__ import annotations

import math

import httpx


class HttpEmbedder:
    def __init__(self, url: str, model: str, *, api_key: str | None = None, timeout: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/embeddings") else base + ("/embeddings" if base.endswith("/v1") else "/v1/embeddings")
        self.name = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=timeout, headers=headers)
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> list[list[float]]:
        response = self._client.post(self.url, json={"model": self.name, "input": texts})
        response.raise_for_status()
        rows = sorted(response.json()["data"], key=lambda row: row["index"])
        return [_unit(row["embedding"]) for row in rows]


def _unit(vector: list[float]) -> list[float]:
    """Normalise, so cosine scores agree whatever the endpoint returns."""
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
