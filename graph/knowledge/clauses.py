"""WHERE clauses for tool and execution filters: fixed Cypher text, values only as parameters."""

from __future__ import annotations

from typing import Any

from .records import ExecutionFilter, ToolFilter


def tool_where(where: ToolFilter) -> tuple[str, dict[str, Any]]:
    """Conditions on `t` (the tool) and `v` (its latest version)."""
    parts = ["t.workspace = $ws", "v.version = t.latest"]
    params: dict[str, Any] = {}
    if where.name is not None:
        parts.append("t.name = $f_name")
        params["f_name"] = where.name
    if where.name_prefix is not None:
        parts.append("t.name STARTS WITH $f_prefix")
        params["f_prefix"] = where.name_prefix
    if where.tag is not None:
        parts.append("$f_tag IN v.tags")
        params["f_tag"] = where.tag
    if where.kind is not None:
        parts.append("v.kind = $f_kind")
        params["f_kind"] = where.kind
    if where.deprecated is not None:
        parts.append("v.deprecated = $f_deprecated")
        params["f_deprecated"] = where.deprecated
    if where.retired is not None:
        parts.append("t.retired = $f_retired")
        params["f_retired"] = where.retired
    return " AND ".join(parts), params


def execution_where(where: ExecutionFilter) -> tuple[str, dict[str, Any]]:
    """Conditions on `e` (an execution)."""
    parts, params = ["e.workspace = $ws"], {}
    for field in ("tool", "status", "principal"):
        value = getattr(where, field)
        if value is not None:
            parts.append(f"e.{field} = $f_{field}")
            params[f"f_{field}"] = value
    if where.started_after is not None:
        parts.append("e.started_at >= $f_after")
        params["f_after"] = int(where.started_after)
    if where.started_before is not None:
        parts.append("e.started_at < $f_before")
        params["f_before"] = int(where.started_before)
    if where.context_id is not None:
        parts.append("(e.context_id = $f_context OR e.output_context_id = $f_context)")
        params["f_context"] = where.context_id
    return " AND ".join(parts), params
