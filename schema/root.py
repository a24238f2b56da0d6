"""Assemble the schema from the root types and the extensions every request runs through."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.extensions import (
    AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache,
)
from graphql import GraphQLError

from .access import AccessMutation, AccessQuery
from .errors import ErrorCodes
from .execution import LeanExecutor
from .guard import AccessGuard, guard_root_fields
from .index_ops import IndexMutation, IndexQuery
from .mutation import Mutation
from .query import Query
from .subscription import Subscription
from .types import Context, ContextVersion


class ContextQLSchema(strawberry.Schema):
    # Seconds a query's root field may run (read by schema/guard.RootGuard); None: no limit.
    resolver_timeout: float | None = None

    def process_errors(self, errors, execution_context=None) -> None:
        """User errors are answers, not incidents: `ErrorCodes` logs only the unexpected ones."""


class ParsedOnce(ParserCache):
    """Strawberry's ParserCache, except that a document that does not parse is left to Strawberry's
    own parse step, which reports the syntax error as a GraphQL error like any other."""

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        with contextlib.suppress(GraphQLError):
            ec.graphql_document = self.cached_parse_document(ec.query, **ec.parse_options)
        yield


def build_schema(
    *, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 5_000, resolver_timeout: float | None = None,
    extensions: Sequence = (), config: StrawberryConfig | None = None, lean: bool = True,
) -> strawberry.Schema:
    """`extensions` run after validation (cost, rate limits: server/guard/); `config` sets batching and suggestions.

    `lean=False` runs graphql-core's own executor for every field (tests compare the two: schema/execution.py).
    """
    # The shape rules are built once: ValidationCache keys on the rule classes, and a
    # limiter constructed per request makes new ones, so nothing would ever be a cache hit.
    shape_rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    query = merge_types("Query", (Query, AccessQuery, IndexQuery))
    mutation = merge_types("Mutation", (Mutation, AccessMutation, IndexMutation))
    guard_root_fields(query, mutation)
    schema = ContextQLSchema(
        query=query,
        mutation=mutation,
        config=config,
        subscription=Subscription,
        types=[Context, ContextVersion],
        execution_context_class=LeanExecutor if lean else None,
        extensions=[
            ErrorCodes,
            lambda: AddValidationRules(shape_rules),
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            # After the token limit, whose parse option is part of the cache key.
            lambda: ParsedOnce(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            # After validation: it sees the validation result (see AccessGuard.on_validate).
            AccessGuard,
            *extensions,
        ],
    )
    schema.resolver_timeout = resolver_timeout
    return schema
