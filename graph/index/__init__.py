"""The semantic-search index: collections kept in step with the graph through the outbox.

- `qdrant.py`  `VectorIndex`: points, payload, dense + BM25-style sparse vectors, hybrid queries,
               over an index engine (`engine.py`): Qdrant Edge in-process (`edge.py`, embedded)
               or qdrant-client against a Qdrant server (`qdrant_engine.py`).
- `sync.py`    `IndexWorker`: claims outbox tasks, refreshes the index from the graph, retries with backoff.
- `audit.py`   `verify` (drift between graph and index) and `reindex` (rebuild from the graph).
The graph is the truth: the index may lag, and search checks every hit against the graph.
"""

from .audit import Drift, reindex, verify
from .qdrant import IndexHit, SearchFilter, VectorIndex
from .sync import IndexWorker

__all__ = ["Drift", "IndexHit", "IndexWorker", "SearchFilter", "VectorIndex", "reindex", "verify"]
