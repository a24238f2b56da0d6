"""Input types: context writes, filters and ordering."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.input(description="Conditions on a text field; all given conditions must hold.")
class StringFilter:
    eq: str | None = None
    ne: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    starts_with: str | None = None
    ends_with: str | None = None
    contains: str | None = None


@strawberry.input(description="Conditions on a number field; all given conditions must hold.")
class IntFilter:
    eq: int | None = None
    ne: int | None = None
    in_: list[int] | None = strawberry.field(default=None, name="in")
    gt: int | None = None
    gte: int | None = None
    lt: int | None = None
    lte: int | None = None


@strawberry.input(description="Conditions on a timestamp; all given conditions must hold.")
class DateTimeFilter:
    eq: datetime | None = None
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None


@strawberry.input(description="Conditions on tags.")
class TagsFilter:
    includes: str | None = None
    includes_any: list[str] | None = None
    includes_all: list[str] | None = None


@strawberry.input(description="Filter over contexts; fields combine with AND.")
class ContextWhere:
    path: StringFilter | None = None
    name: StringFilter | None = None
    kind: StringFilter | None = None
    title: StringFilter | None = None
    created_by: StringFilter | None = None
    updated_by: StringFilter | None = None
    tags: TagsFilter | None = None
    depth: IntFilter | None = None
    version: IntFilter | None = None
    created_at: DateTimeFilter | None = None
    updated_at: DateTimeFilter | None = None
    AND: list[ContextWhere] | None = strawberry.field(default=None, name="AND")
    OR: list[ContextWhere] | None = strawberry.field(default=None, name="OR")
    NOT: ContextWhere | None = strawberry.field(default=None, name="NOT")


@strawberry.enum
class ContextSortField(Enum):
    PATH = "path"
    NAME = "name"
    KIND = "kind"
    TITLE = "title"
    DEPTH = "depth"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    VERSION = "version"


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class ContextOrderBy:
    field: ContextSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class CreateContextInput:
    path: str
    kind: str = "context"
    title: str = ""
    content: str = ""
    data: JSON | None = None
    tags: list[str] | None = None
    inherit: bool = strawberry.field(default=True, description="False stops inheritance of data from ancestors.")
    derived_from: list[str] | None = strawberry.field(
        default=None, description="Paths or ids of the contexts this one was made from (its provenance)."
    )


@strawberry.input(description="A partial update: omitted fields keep their value.")
class UpdateContextInput:
    kind: str | None = None
    title: str | None = None
    content: str | None = None
    data: JSON | None = strawberry.field(default=None, description="Replaces the context's own data.")
    merge_data: JSON | None = strawberry.field(
        default=None,
        description="Deep-merged into the data as it is when the write runs (concurrent merges of different "
        "keys all land); a null value removes that key.",
    )
    patch_data: JSON | None = strawberry.field(
        default=None,
        description="RFC 6902 JSON Patch operations applied atomically to the data as it is when the write runs; "
        "a failed `test` operation answers CONFLICT.",
    )
    tags: list[str] | None = None
    inherit: bool | None = None
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the context is still at this version."
    )
    derived_from: list[str] | None = strawberry.field(
        default=None, description="Paths or ids of the contexts this one was made from (its provenance)."
    )


def client_json(value: JSON | None) -> Any:
    """A JSON argument as the client sent it: any JSON value. The resolvers check its shape (an object
    for data, schemas and properties; a list of operations for a patch) and answer BAD_USER_INPUT otherwise."""
    return value
