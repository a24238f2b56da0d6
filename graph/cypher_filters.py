"""Compile the backend-neutral filter AST (`graph.filters`) into a Cypher WHERE clause.

Both backends speak Cypher and store contexts under the same property names (the
names in `FILTER_FIELDS`), so the compiler is shared. Dialect differences go through
the small `_`-free hook methods below (`in_list`, `list_includes`, ...), which a
backend overrides in a subclass when its engine spells something differently.

Values are never written into the query text: every value becomes a parameter
(`$<prefix><n>`), returned alongside the clause.

Paged reads share the keyset helpers at the end (`order_clause`, `seek_clause`,
`limit_clause`): ORDER BY and the seek predicate are compiled from the same
`graph.keyset` keys, so a page always starts right after the position it was given.

Semantics, identical on every backend:
- A comparison never yields NULL: a comparison against a missing (null) property
  is false, so `Not` is the exact complement of its operand. The only nullable
  stored field is `parent_id` (roots).
- `eq` with value None means `isNull: true`; `ne` with None means `isNull: false`.
- `ne` is the negation of `eq`: `parent_id ne "x"` matches roots.
- `in []` and `includesAny []` match nothing; `includesAll []` matches everything.
- `And(())` matches everything, `Or(())` nothing.
- Values are type-checked per field (ints for `depth`, `version`, `created_at`,
  `updated_at`; strings elsewhere; a string for `includes`, a list of strings for
  `includesAny` / `includesAll`; a bool for `isNull`), raising `BadUserInputError`,
  so that no engine silently compares across types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import BadUserInputError
from .filters import And, Compare, Filter, Not, Or, Order
from .keyset import Keyset, check_position, contexts
from .records import Page

INT_FIELDS = frozenset({"depth", "created_at", "updated_at", "version"})
LIST_FIELDS = frozenset({"tags"})
NULLABLE_FIELDS = frozenset({"parent_id"})

TRUE = "true"
FALSE = "false"


class CypherFilterCompiler:
    """Turns a `Filter` into `(clause, params)` for a node bound to `variable`.

    One instance compiles one query (it numbers the parameters it creates).
    """

    #: Name of the loop variable used inside list predicates.
    loop_variable = "tag_item"

    def __init__(self, variable: str = "c", param_prefix: str = "f") -> None:
        self.variable = variable
        self.param_prefix = param_prefix
        self.params: dict[str, Any] = {}

    # -- public ---------------------------------------------------------------

    def compile(self, where: Filter | None) -> tuple[str, dict[str, Any]]:
        """The WHERE condition (without the keyword) and its parameters; `true` for no filter."""
        clause = TRUE if where is None else self._node(where)
        return clause, self.params

    def order_by(self, order: Sequence[Order], tiebreak: str = "path") -> str:
        """`ORDER BY` expressions (without the keyword): `order`, then `tiebreak` ascending."""
        return order_clause(self.variable, contexts(order, tiebreak))

    # -- dialect hooks (override per engine) ----------------------------------

    def prop(self, field: str) -> str:
        return f"{self.variable}.{field}"

    def null_safe(self, expr: str) -> str:
        """Make a predicate that may be NULL (on a nullable field) two-valued."""
        return f"coalesce({expr}, false)"

    def in_list(self, lhs: str, param: str) -> str:
        return f"{lhs} IN {param}"

    def starts_with(self, lhs: str, param: str) -> str:
        return f"{lhs} STARTS WITH {param}"

    def ends_with(self, lhs: str, param: str) -> str:
        return f"{lhs} ENDS WITH {param}"

    def contains(self, lhs: str, param: str) -> str:
        return f"{lhs} CONTAINS {param}"

    def list_includes(self, list_expr: str, param: str) -> str:
        return f"{param} IN {list_expr}"

    def list_includes_any(self, list_expr: str, param: str) -> str:
        v = self.loop_variable
        return f"any({v} IN {param} WHERE {v} IN {list_expr})"

    def list_includes_all(self, list_expr: str, param: str) -> str:
        v = self.loop_variable
        return f"all({v} IN {param} WHERE {v} IN {list_expr})"

    # -- internals --------------------------------------------------------------

    def _param(self, value: Any) -> str:
        name = f"{self.param_prefix}{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def _node(self, node: Filter) -> str:
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, And):
            if not node.items:
                return TRUE
            return "(" + " AND ".join(self._node(item) for item in node.items) + ")"
        if isinstance(node, Or):
            if not node.items:
                return FALSE
            return "(" + " OR ".join(self._node(item) for item in node.items) + ")"
        if isinstance(node, Not):
            return f"(NOT {self._node(node.item)})"
        raise BadUserInputError(f"not a filter: {node!r}")

    def _compare(self, node: Compare) -> str:
        field, op, value = node.field, node.op, node.value
        lhs = self.prop(field)
        if op == "isNull":
            if not isinstance(value, bool):
                raise BadUserInputError(f"isNull on {field!r} takes a boolean")
            return f"({lhs} IS NULL)" if value else f"({lhs} IS NOT NULL)"
        if op == "eq" and value is None:
            return f"({lhs} IS NULL)"
        if op == "ne" and value is None:
            return f"({lhs} IS NOT NULL)"

        if field in LIST_FIELDS:
            if op == "includes":
                self._check_scalar(field, value)
                expr = self.list_includes(lhs, self._param(value))
            else:
                items = self._check_list(field, value)
                if not items:
                    return FALSE if op == "includesAny" else TRUE
                param = self._param(items)
                expr = (self.list_includes_any if op == "includesAny" else self.list_includes_all)(lhs, param)
            return f"({expr})"

        if op == "in":
            items = self._check_list(field, value)
            if not items:
                return FALSE
            expr = self.in_list(lhs, self._param(items))
        elif op in ("startsWith", "endsWith", "contains"):
            if field in INT_FIELDS:
                raise BadUserInputError(f"operator {op!r} does not apply to {field!r}")
            self._check_scalar(field, value)
            hook = {"startsWith": self.starts_with, "endsWith": self.ends_with, "contains": self.contains}[op]
            expr = hook(lhs, self._param(value))
        else:
            self._check_scalar(field, value)
            symbol = {"eq": "=", "ne": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            expr = f"{lhs} {symbol} {self._param(value)}"
            if op == "ne":
                expr = f"NOT {self._safe(field, expr)}"
                return f"({expr})"
        return f"({self._safe(field, expr)})"

    def _safe(self, field: str, expr: str) -> str:
        return self.null_safe(expr) if field in NULLABLE_FIELDS else expr

    @staticmethod
    def _check_scalar(field: str, value: Any) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool) if field in INT_FIELDS else isinstance(value, str)
        if not ok:
            kind = "an integer" if field in INT_FIELDS else "a string"
            raise BadUserInputError(f"filter on {field!r} takes {kind}, got {value!r}")

    @classmethod
    def _check_list(cls, field: str, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise BadUserInputError(f"filter on {field!r} takes a list, got {value!r}")
        items = list(value)
        for item in items:
            cls._check_scalar("name" if field in LIST_FIELDS else field, item)
        return items


def page_limit(page: Page) -> int:
    """The validated row limit of a page (a non-negative integer)."""
    limit = page.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise BadUserInputError("page limit must be a non-negative integer")
    return int(limit)


def limit_clause(page: Page) -> str:
    """`LIMIT m` with the validated integer written inline.

    LadybugDB plans a parameterised LIMIT on every execution (1.1 ms instead of 0.7 ms per
    paged query). Inline limits stay few distinct statement texts: a page never exceeds the
    API's page size (plus one probe row) and there is no offset any more.
    """
    return f"LIMIT {page_limit(page)}"


def order_clause(variable: str, keys: Keyset) -> str:
    """`ORDER BY` expressions (without the keyword) of a keyset."""
    return ", ".join(f"{variable}.{k.field}" + (" DESC" if k.descending else "") for k in keys)


def seek_clause(variable: str, keys: Keyset, page: Page, prefix: str = "after") -> tuple[str, dict[str, Any]]:
    """The condition `(key...) > ($after...)` in the order of `keys`, and its parameters.

    Lexicographic, each key compared in its own direction (`>` ascending, `<` descending).
    Written as `k0 >= $a0 AND NOT (k0 = $a0 AND <rest at or before $a1...>)` rather than as a
    disjunction `k0 > $a0 OR (k0 = $a0 AND ...)`: Neo4j turns the disjunction into a union of
    seeks or a full index scan, but seeks a range on this form's leading conjunct (EXPLAIN in
    tests/neo4j). `true` when the page starts at the beginning. Sort keys are never null in
    stored rows, so every comparison is two-valued. Every value becomes a parameter (LadybugDB
    would read a missing one as NULL and silently match nothing).
    """
    if page.after is None:
        return TRUE, {}
    values = check_position(keys, page.after)
    params = {f"{prefix}{i}": value for i, value in enumerate(values)}
    exprs = [f"{variable}.{k.field}" for k in keys]
    names = [f"${prefix}{i}" for i in range(len(keys))]

    def at_or_before(i: int) -> str:
        """Keys i.. are lexicographically at or before the position (the negation of past it)."""
        before = "<" if not keys[i].descending else ">"
        if i == len(keys) - 1:
            return f"{exprs[i]} {before}= {names[i]}"
        return f"({exprs[i]} {before} {names[i]} OR ({exprs[i]} = {names[i]} AND {at_or_before(i + 1)}))"

    first = keys[0]
    if len(keys) == 1:
        return f"({exprs[0]} {'<' if first.descending else '>'} {names[0]})", params
    bound = f"{exprs[0]} {'<=' if first.descending else '>='} {names[0]}"
    return f"({bound} AND NOT ({exprs[0]} = {names[0]} AND {at_or_before(1)}))", params
