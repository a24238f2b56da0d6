"""One Cypher statement for a `TreePlan`: contexts by path with nested pages of children and counts.

Composed from one block per level (`neo4j/graphql` style): level d binds `c{d}`, pages its
children with the keyset of `graph.keyset.CHILDREN` (parameters prefixed per level), and
returns them as maps `{props, kids, n}` nested for the level below. `props` holds only the
properties the plan's `fields` name (`projection`), so the driver unpacks what the selection shows
and not every context's `content` and `data`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from .. import keyset
from ..cypher_filters import order_clause, page_limit, seek_clause
from ..records import ContextRecord, TreePlan, TreeRead
from ..codec import context_decoder, fetched


def projection(var: str, fields: frozenset[str] | None) -> str:
    """The properties of `var` to return: all of them, or a map projection of `fields` (a
    `codec.fetched` set; sorted, so that one selection always gives one statement text)."""
    if fields is None:
        return f"properties({var})"
    return f"{var} {{{', '.join('.' + name for name in sorted(fields))}}}"


def _count(var: str) -> str:
    return f"COUNT {{ ({var})<-[:CHILD_OF]-() }}"


def _level(parent: str, plan: TreePlan, depth: int, params: dict[str, Any], fields: frozenset[str] | None,
           guard: str | None = None) -> str:
    """A CALL block binding `kids{depth}`: the page of `parent`'s children and what is below them.

    Below the first `plan.shown` rows only: the page is collected and walked by position, and a
    row past it (`full{depth}` false) is returned as `{props}` alone, its block below (`guard`)
    matching nothing."""
    assert plan.page is not None
    var = f"c{depth}"
    seek, after = seek_clause(var, keyset.CHILDREN, plan.page, prefix=f"after{depth}_")
    params.update(after)
    limit = params[f"limit{depth}"] = page_limit(plan.page)
    below = plan.below
    counted = below is not None and below.count
    paged = below if below is not None and below.page is not None else None  # a page of children below
    rows_past_shown = (paged is not None or counted) and plan.shown is not None and plan.shown < limit
    full = f"full{depth}" if rows_past_shown else None
    inner = _level(var, paged, depth + 1, params, fields, full) if paged is not None else ""
    entries = [f"props: {projection(var, fields)}"]
    if inner:
        entries.append(f"kids: kids{depth + 1}")
    if counted:
        entries.append(f"n: {_count(var)}")
    entry = f"{{{', '.join(entries)}}}"
    walk = ""
    if full is not None:
        params[f"shown{depth}"] = plan.shown
        walk = f"""
  WITH collect({var}) AS rows{depth}
  UNWIND range(0, size(rows{depth}) - 1) AS i{depth}
  WITH rows{depth}[i{depth}] AS {var}, i{depth} < $shown{depth} AS {full}"""
        entry = f"CASE WHEN {full} THEN {entry} ELSE {{{entries[0]}}} END"
    scope, only = (f"{parent}, {guard}", f"\n  WITH {parent} WHERE {guard}") if guard else (parent, "")
    return f"""
CALL ({scope}) {{{only}
  MATCH ({var}:Context {{workspace: $workspace, parent_id: {parent}.id}})
  WHERE {var}.name IS NOT NULL AND {seek}
  WITH {var} ORDER BY {var}.workspace, {var}.parent_id, {order_clause(var, keyset.CHILDREN)}
  LIMIT $limit{depth}{walk}{inner}
  RETURN collect({entry}) AS kids{depth}
}}"""


def statement(plan: TreePlan) -> tuple[str, dict[str, Any]]:
    """The statement for `plan` and its parameters (besides `$workspace` and `$paths`)."""
    query, params = _statement(plan)
    return query, dict(params)


# A selection asks for one plan request after request (cursors aside): its text is composed once.
@functools.lru_cache(maxsize=256)
def _statement(plan: TreePlan) -> tuple[str, tuple[tuple[str, Any], ...]]:
    params: dict[str, Any] = {}
    fields = fetched(plan.fields)
    body = _level("c0", plan, 1, params, fields) if plan.page is not None else ""
    returned = [f"{projection('c0', fields)} AS props"]
    returned.append("kids1" if body else "[] AS kids1")
    returned.append(f"{_count('c0')} AS n" if plan.count else "null AS n")
    query = f"""
UNWIND $paths AS path
MATCH (c0:Context {{workspace: $workspace, path: path}}){body}
RETURN {", ".join(returned)}
"""
    return query, tuple(params.items())


# The order of a page of children: the keyset's, on the records.
_CHILD_ORDER = operator.attrgetter(*(key.field for key in keyset.CHILDREN))


def decode(rows: list[list[Any]], plan: TreePlan) -> TreeRead:
    read = TreeRead()
    make = context_decoder(fetched(plan.fields))
    for props, kids, count in rows:
        record = make(props)
        read.contexts[record.path] = record
        _decode_level(read, record.id, kids, count, plan, make)
    return read


def _decode_level(read: TreeRead, parent_id: str, kids: list[dict[str, Any]] | None, count: int | None,
                  plan: TreePlan, make: Callable[[Mapping[str, Any]], ContextRecord]) -> None:
    if plan.count and count is not None:
        read.counts[parent_id] = int(count)
    if plan.page is None:
        return
    below = plan.below
    page = [make(kid["props"]) for kid in kids or ()]
    if below is not None:
        for child, kid in zip(page, kids or ()):
            if len(kid) > 1:  # a row past `plan.shown` is its `props` alone: nothing read below it
                _decode_level(read, child.id, kid.get("kids"), kid.get("n"), below, make)
    page.sort(key=_CHILD_ORDER)
    read.children[parent_id] = page
