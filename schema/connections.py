"""Relay connections: `edges { node cursor } pageInfo totalCount`, with `totalCount` counted only when asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

import strawberry

from contextql.resolvers.pagination import Slice, encode_cursor

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    page: strawberry.Private[Slice]

    @strawberry.field
    def start_cursor(self) -> str | None:
        page = self.page
        return encode_cursor(page.scope, page.locate(page.items[0])) if page.items else None

    @strawberry.field
    def end_cursor(self) -> str | None:
        page = self.page
        return None if page.end is None else encode_cursor(page.scope, page.end)


@strawberry.type
class Edge(Generic[T]):
    node: T
    row: strawberry.Private[Any]
    page: strawberry.Private[Slice]

    @strawberry.field
    def cursor(self) -> str:
        # Encoded only when asked for: a nested page (`edges { node { ... } }`) never is.
        return encode_cursor(self.page.scope, self.page.locate(self.row))


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], int | Awaitable[int]]]

    @strawberry.field(description="Number of items across all pages (computed only when selected).")
    def total_count(self) -> int:
        # Not `async`: a count read with the page is returned as is; a count still to be read is
        # returned as its awaitable, which graphql-core awaits as it would an async resolver's.
        return cast(int, self.count_total())


def connection(page: Slice, wrap: Callable, count_total: Callable[[], int | Awaitable[int]]) -> Connection:
    """Edges whose cursors name each row's position (its sort-key values), not its offset; a cursor
    is computed when a selection shows it."""
    return Connection(
        edges=[Edge(node=wrap(item), row=item, page=page) for item in page.items],
        page_info=PageInfo(has_next_page=page.has_next, has_previous_page=page.has_previous, page=page),
        count_total=count_total,
    )
