"""Records of tools, executions, relationships and lineage (timestamps: microseconds since the epoch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a relationship or lineage node can be.
CONTEXT, TOOL, AGENT, EXECUTION = "context", "tool", "agent", "execution"


@dataclass(frozen=True, slots=True)
class ToolRecord:
    """A tool as a whole: its versions share name, permissions and retirement."""

    workspace: str
    name: str
    latest: str  # the highest semantic version registered
    retired: bool
    permissions: dict[str, list[str]]  # action (read/write/execute) -> grants ("*", "role:x", "principal:y")
    created_at: int
    updated_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class ToolVersionRecord:
    """One immutable published version of a tool (only `deprecated` ever changes)."""

    workspace: str
    name: str
    version: str
    sort_key: str  # orders versions by semantic-version precedence as plain strings
    description: str
    kind: str  # http | builtin
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    config: dict[str, Any]  # kind-specific settings, e.g. {"url": ..., "timeoutMs": ...}
    tags: list[str]
    deprecated: bool
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Conditions on tools (their latest version); all given ones must hold."""

    name: str | None = None
    name_prefix: str | None = None
    tag: str | None = None
    kind: str | None = None
    deprecated: bool | None = None
    retired: bool | None = False


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    id: str
    workspace: str
    tool: str
    tool_version: str
    status: str  # running | succeeded | failed | timed_out
    input: Any
    output: Any
    error: str | None
    principal: str
    started_at: int
    finished_at: int | None
    duration_ms: int | None
    context_id: str | None  # the context the run was about (input)
    output_context_id: str | None  # the context (or version) it wrote


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    tool: str | None = None
    status: str | None = None
    principal: str | None = None
    started_after: int | None = None
    started_before: int | None = None
    context_id: str | None = None  # as input or as output


@dataclass(frozen=True, slots=True)
class NodeRef:
    """An endpoint of a relationship: a context (by id), a tool (by name) or an agent (by id)."""

    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class RelationshipRecord:
    workspace: str
    source: NodeRef  # always a context
    target: NodeRef
    type: str
    properties: dict[str, Any]
    weight: float
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class Neighbor:
    node: NodeRef
    distance: int


@dataclass(frozen=True, slots=True)
class GraphView:
    """Nodes and edges of a part of the graph (subgraphs, paths)."""

    nodes: list[NodeRef]
    edges: list[RelationshipRecord]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A context something was derived from, as it was at that moment."""

    id: str
    path: str
    version: int


@dataclass(frozen=True, slots=True)
class Derivation:
    """Lineage of one version of a context: what it was made from and by which execution."""

    workspace: str
    context_id: str
    path: str
    version: int
    sources: list[SourceRef] = field(default_factory=list)
    execution_id: str | None = None
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """`derived` (a context id) was made, at `version`, from `source` (at `source_version`)."""

    derived: str
    source: str
    version: int
    source_version: int
    execution_id: str | None


@dataclass(frozen=True, slots=True)
class Lineage:
    """A lineage graph: context ids with the path they had when lineage was recorded, derivation
    edges, and which executions produced which (context id, version)."""

    paths: dict[str, str]
    edges: list[LineageEdge]
    produced_by: list[tuple[str, int, str]]  # (context id, version, execution id)
