"""Assemble the schema from the root types and the extensions every request runs through."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from graphql import ASTValidationRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from .access import AccessMutation, AccessQuery
from .execution import LeanExecutor
from .guard import guard_root_fields
from .index_ops import IndexMutation, IndexQuery
from .mutation import Mutation
from .pipeline import FinishedStep, OperationPipeline, PipelineRunner, ValidatedStep, pipeline_factory
from .query import Query
from .subscription import Subscription
from .types import Context, ContextVersion


class ContextQLSchema(strawberry.Schema):
    # Seconds a query's root field may run (read by schema/guard.RootGuard); None: no limit.
    resolver_timeout: float | None = None

    def process_errors(self, errors, execution_context=None) -> None:
        """User errors are answers, not incidents: `classify` (schema/errors.py) logs only the unexpected ones."""

    def create_extensions_runner(self, execution_context, extensions):
        """The pipeline alone (tracing off): its steps called directly, not through per-operation hook wrappers."""
        if len(extensions) == 1 and isinstance(extensions[0], OperationPipeline):
            return PipelineRunner(execution_context, extensions[0])
        return super().create_extensions_runner(execution_context, extensions)


def build_schema(
    *, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 5_000, max_spread_depth: int = 64,
    resolver_timeout: float | None = None,
    validation_rules: Sequence[type[ASTValidationRule]] = (), after_validation: Sequence[ValidatedStep] = (),
    finished: Sequence[FinishedStep] = (), extensions: Sequence = (), config: StrawberryConfig | None = None,
    lean: bool = True,
) -> strawberry.Schema:
    """The schema, with the operation pipeline (schema/pipeline.py) every request runs through.

    The caller's steps (server/guard/, server/operation_telemetry.py): `validation_rules` join the shape rules;
    `after_validation` steps (cost, rate limits) see valid documents only; `finished` steps get each operation's
    duration. `extensions` are Strawberry extensions run after the pipeline (the traced operation); `config`
    sets batching and suggestions. `lean=False` runs graphql-core's own executor for every field (tests compare
    the two: schema/execution.py).
    """
    # The shape rules are built once: the validation cache keys on the rule classes, and a
    # limiter constructed per request makes new ones, so nothing would ever be a cache hit.
    shape_rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    query = merge_types("Query", (Query, AccessQuery, IndexQuery))
    mutation = merge_types("Mutation", (Mutation, AccessMutation, IndexMutation))
    guard_root_fields(query, mutation)
    pipeline = pipeline_factory(validation_rules=[*shape_rules, *validation_rules], max_tokens=max_tokens,
                                max_spread_depth=max_spread_depth, after_validation=after_validation, finished=finished)
    schema = ContextQLSchema(
        query=query,
        mutation=mutation,
        config=config,
        subscription=Subscription,
        types=[Context, ContextVersion],
        execution_context_class=LeanExecutor if lean else None,
        extensions=[pipeline, *extensions],
    )
    schema.resolver_timeout = resolver_timeout
    return schema
