"""Text embeddings for semantic search: one `Embedder` interface, several engines.

- `FastEmbedder`: fastembed (ONNX Runtime). By default the bundled offline
  all-MiniLM-L6-v2 int8 model; any fastembed model by name (downloaded on first use).
- `HttpEmbedder`: an OpenAI-compatible `/v1/embeddings` endpoint (Ollama, vLLM, TEI, OpenAI).
- `EmbeddingService`: runs an embedder off the event loop, batches concurrent requests
  and caches query vectors.
"""

from .base import Embedder
from .service import EmbeddingService

__all__ = ["Embedder", "EmbeddingService"]
