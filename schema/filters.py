"""Translate the `where` / `orderBy` inputs into the store's filter language."""

from __future__ import annotations

from contextql.graph.filters import And, Compare, Filter, Not, Operator, Or, Order, all_of
from contextql.resolvers.clock import from_datetime
from contextql.resolvers.paths import normalize

from .inputs import ContextOrderBy, ContextWhere, SortDirection

_FIELDS = {
    "path": "path", "name": "name", "kind": "kind", "title": "title", "created_by": "created_by",
    "updated_by": "updated_by", "depth": "depth", "version": "version",
    "created_at": "created_at", "updated_at": "updated_at",
}
_OPERATORS: dict[str, Operator] = {
    "eq": "eq", "ne": "ne", "in_": "in", "starts_with": "startsWith", "ends_with": "endsWith",
    "contains": "contains", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte",
}
_TAG_OPERATORS: dict[str, Operator] = {"includes": "includes", "includes_any": "includesAny", "includes_all": "includesAll"}


def to_filter(where: ContextWhere | None) -> Filter | None:
    if where is None:
        return None
    clauses: list[Filter | None] = []
    for attribute, field in _FIELDS.items():
        condition = getattr(where, attribute)
        if condition is None:
            continue
        for op_attr, op in _OPERATORS.items():
            value = getattr(condition, op_attr, None)
            if value is not None:
                clauses.append(Compare(field, op, _value(field, op, value)))
    if where.tags is not None:
        for op_attr, op in _TAG_OPERATORS.items():
            value = getattr(where.tags, op_attr)
            if value is not None:
                clauses.append(Compare("tags", op, value))
    if where.AND:
        clauses.append(And(tuple(f for f in map(to_filter, where.AND) if f is not None)))
    if where.OR:
        clauses.append(Or(tuple(f for f in map(to_filter, where.OR) if f is not None)))
    if where.NOT is not None:
        inner = to_filter(where.NOT)
        if inner is not None:
            clauses.append(Not(inner))
    return all_of(*clauses)


def to_order(order_by: list[ContextOrderBy] | None) -> list[Order]:
    return [Order(o.field.value, o.direction == SortDirection.DESC) for o in order_by or []]


def _value(field: str, op: str, value):
    if field in ("created_at", "updated_at"):
        return from_datetime(value)
    if field == "path" and op in ("eq", "ne"):
        return normalize(value)
    if field == "path" and op == "in":
        return [normalize(v) for v in value]
    return value
