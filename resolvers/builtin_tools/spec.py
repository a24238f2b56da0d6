"""What a built-in tool is: a name, schemas and an async runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contextql.graph.knowledge.records import ToolRecord, ToolVersionRecord
from contextql.graph.records import ContextRecord

if TYPE_CHECKING:
    from ..request import RequestContext

PREFIX = "builtin."
VERSION = "1.0.0"
EVERYONE = {"read": ["*"], "write": [], "execute": ["*"]}


@dataclass
class Outcome:
    """A run's output, plus the contexts it wrote with the context each was derived from."""

    output: Any
    derived: list[tuple[ContextRecord, ContextRecord]] = field(default_factory=list)


@dataclass(frozen=True)
class BuiltinTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    run: Callable[[RequestContext, dict[str, Any]], Awaitable[Outcome]]

    def records(self, workspace: str) -> tuple[ToolRecord, ToolVersionRecord]:
        tool = ToolRecord(workspace, self.name, VERSION, False, EVERYONE, 0, 0, "contextql")
        version = ToolVersionRecord(
            workspace, self.name, VERSION, "00000001.00000000.00000000~", self.description, "builtin",
            self.input_schema, self.output_schema, {}, ["builtin"], False, 0, "contextql",
        )
        return tool, version
