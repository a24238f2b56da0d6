"""The Neo4j backend of the graph-store contract (Neo4j 5.26 LTS, Community or Enterprise)."""

from .store import Neo4jStore

__all__ = ["Neo4jStore"]
