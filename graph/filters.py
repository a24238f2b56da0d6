"""A small, backend-neutral filter language over contexts.

The API's `where` input is translated into these nodes; each backend compiles
them into its own query language with parameters (never string-built values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Stored property names that may be filtered or ordered on.
FILTER_FIELDS = frozenset(
    {"id", "path", "name", "parent_id", "kind", "title", "tags", "depth",
     "created_at", "updated_at", "created_by", "updated_by", "version"}
)
ORDER_FIELDS = frozenset({"path", "name", "kind", "title", "depth", "created_at", "updated_at", "version"})

Operator = Literal[
    "eq", "ne", "in", "startsWith", "endsWith", "contains", "gt", "gte", "lt", "lte",
    "includes", "includesAny", "includesAll",  # list fields (tags)
    "isNull",
]
SCALAR_OPERATORS = frozenset({"eq", "ne", "in", "startsWith", "endsWith", "contains", "gt", "gte", "lt", "lte", "isNull"})
LIST_OPERATORS = frozenset({"includes", "includesAny", "includesAll"})


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: Operator
    value: Any

    def __post_init__(self) -> None:
        if self.field not in FILTER_FIELDS:
            raise ValueError(f"unknown filter field {self.field!r}")
        allowed = LIST_OPERATORS if self.field == "tags" else SCALAR_OPERATORS
        if self.op not in allowed:
            raise ValueError(f"operator {self.op!r} does not apply to {self.field!r}")


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter


Filter = Compare | And | Or | Not


@dataclass(frozen=True, slots=True)
class Order:
    field: str
    descending: bool = False

    def __post_init__(self) -> None:
        if self.field not in ORDER_FIELDS:
            raise ValueError(f"cannot order by {self.field!r}")


def comparisons(item: Filter) -> int:
    """How many comparisons `item` holds, at any depth of AND, OR and NOT."""
    count, stack = 0, [item]
    while stack:
        node = stack.pop()
        if isinstance(node, Compare):
            count += 1
        elif isinstance(node, (And, Or)):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
    return count


def all_of(*items: Filter | None) -> Filter | None:
    """Combine filters with AND, dropping the absent ones."""
    present = tuple(item for item in items if item is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)


def subtree(path: str, *, include_self: bool, max_depth: int | None = None) -> Filter:
    """Contexts at or below `path`, optionally at most `max_depth` levels down."""
    below = Compare("path", "startsWith", path.rstrip("/") + "/")
    clause: Filter = Or((Compare("path", "eq", path), below)) if include_self else below
    if max_depth is not None:
        clause = And((clause, Compare("depth", "lte", path.count("/") + max_depth)))
    return clause
