"""Assemble the schema from the root types and the extensions every request runs through."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, ValidationCache

from .errors import ErrorCodes
from .mutation import Mutation
from .query import Query
from .subscription import Subscription
from .types import Context, ContextVersion


class ContextQLSchema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """User errors are answers, not incidents: `ErrorCodes` logs only the unexpected ones."""


def build_schema(*, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 5_000) -> strawberry.Schema:
    return ContextQLSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Context, ContextVersion],
        extensions=[
            ErrorCodes,
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ValidationCache(maxsize=256),
        ],
    )
