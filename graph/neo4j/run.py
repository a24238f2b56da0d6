"""The one place a statement is sent to Neo4j (reads, managed transactions and the write path all call it)."""

from __future__ import annotations

from typing import Any

import neo4j

from ..telemetry import NEO4J, statement


async def run(target: neo4j.AsyncSession | neo4j.AsyncManagedTransaction, query: str | neo4j.Query,
              params: dict[str, Any]) -> list[list[Any]]:
    """Send one statement and read its rows; timed (and spanned when tracing), never its parameters.

    A `neo4j.Query` (a statement with its own timeout) is for a session's auto-commit statement only: a read,
    or a data migration that commits batch by batch."""
    with statement(NEO4J, query.text if isinstance(query, neo4j.Query) else query):
        if isinstance(target, neo4j.AsyncSession):
            result = await target.run(query, params)
        else:
            assert isinstance(query, str), "a transaction's statements take the transaction's timeout"
            result = await target.run(query, params)
        return await result.values()
