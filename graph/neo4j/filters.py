"""The shared Cypher filter compiler (`graph.cypher_filters`) with Neo4j's dialect hooks."""

from __future__ import annotations

from ..cypher_filters import CypherFilterCompiler


class Neo4jFilterCompiler(CypherFilterCompiler):
    """Neo4j speaks the compiler's default Cypher; only list predicates are made null-proof.

    `tags` is always written (possibly as an empty list), but a node written by another tool
    might lack it; `coalesce(..., [])` keeps `Not(includes ...)` the exact complement then.
    """

    def list_includes(self, list_expr: str, param: str) -> str:
        return super().list_includes(f"coalesce({list_expr}, [])", param)

    def list_includes_any(self, list_expr: str, param: str) -> str:
        return super().list_includes_any(f"coalesce({list_expr}, [])", param)

    def list_includes_all(self, list_expr: str, param: str) -> str:
        return super().list_includes_all(f"coalesce({list_expr}, [])", param)
