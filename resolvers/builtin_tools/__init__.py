"""Tools shipped with ContextQL, runnable in every workspace (names start with `builtin.`).

Each tool has a JSON Schema for its input and output (checked like any tool's) and a runner
that works on contexts through the domain layer, so permissions, limits and versions apply.
"""

from __future__ import annotations

from contextql.graph.knowledge.records import ToolRecord, ToolVersionRecord

from .extract import EXTRACT
from .render import RENDER
from .snapshot import SNAPSHOT
from .spec import PREFIX, BuiltinTool, Outcome

TOOLS: dict[str, BuiltinTool] = {tool.name: tool for tool in (EXTRACT, RENDER, SNAPSHOT)}

__all__ = ["PREFIX", "TOOLS", "BuiltinTool", "Outcome", "all_tools", "find"]


def find(workspace: str, name: str) -> tuple[ToolRecord, ToolVersionRecord] | None:
    tool = TOOLS.get(name)
    return None if tool is None else tool.records(workspace)


def all_tools(workspace: str) -> list[tuple[ToolRecord, ToolVersionRecord]]:
    return [tool.records(workspace) for tool in TOOLS.values()]
