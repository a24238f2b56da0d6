"""Every root field passes here (`RootGuard`): authorisation (resolvers/authorization.py), audit, and a time limit.

Root fields are the entry points of an operation, so checking them covers every query,
mutation and subscription, including fields added later (an unknown mutation needs `write`).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.nodes import SelectedField
from strawberry.types.execution import ExecutionContext

from contextql.graph.errors import ContextQLError
from contextql.resolvers import audit
from contextql.resolvers.authorization import action_for, authorize


class ResolverTimeoutError(ContextQLError):
    code = "TIMEOUT"


TARGET_ARGUMENTS = ("path", "id", "name", "to", "keyId", "tool", "query")
# Admin reads that scan a whole workspace (schema/index_ops.py): they take as long as it is big, so the
# per-query time limit, meant for what any reader may ask, does not cut them short.
UNTIMED = frozenset({"indexDrift"})


def _target(kwargs: dict[str, Any]) -> str:
    parts = [f"{name}={kwargs[name]}" for name in TARGET_ARGUMENTS if isinstance(kwargs.get(name), (str, int))]
    item = kwargs.get("input")
    if isinstance(item, dict) and isinstance(item.get("path"), str):
        parts.append(f"path={item['path']}")
    inputs = kwargs.get("inputs")
    if isinstance(inputs, list):
        parts.append(f"inputs={len(inputs)}")
    return ", ".join(parts)


async def check_subscription(ec: ExecutionContext) -> None:
    """The role check of a valid subscription's root fields, before its stream starts (Strawberry does not pass
    a subscription's root field through `resolve`); a refusal is the operation's only answer."""
    document = ec.graphql_document
    if document is None:
        return
    operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                      and (ec.operation_name is None or (d.name and d.name.value == ec.operation_name))), None)
    for node in (operation.selection_set.selections if operation else ()):
        if not isinstance(node, FieldNode):
            continue
        try:
            authorize(ec.context, action_for("subscription", node.name.value), node.name.value)
        except ContextQLError as denied:
            await audit.record(ec.context, f"subscription {node.name.value}", "", denied)
            ec.pre_execution_errors = [GraphQLError(denied.message, extensions={"code": denied.code})]
            return


class RootGuard(FieldExtension):
    """Authorisation, audit and the time limit of one root field (Query and Mutation).

    A field extension on the root fields only: a schema-wide `resolve` hook would run for every
    field of every result, which costs a call per field for nothing. Subscriptions are checked
    by `check_subscription` (schema/pipeline.py), before their stream starts.
    """

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        """Synchronous root fields (reads only): the role check, then the field."""
        authorize(info.context, action_for(info.operation.operation.value, info.field_name), info.field_name)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        ctx, field = info.context, info.field_name
        operation = info.operation.operation.value
        selected = info.selected_fields[0]
        target = _target(selected.arguments if isinstance(selected, SelectedField) else {})
        try:
            authorize(ctx, action_for(operation, field), field)
        except ContextQLError as denied:
            await audit.record(ctx, f"{operation} {field}", target, denied)
            raise
        error: BaseException | None = None
        if operation == "mutation":
            audit.begin(ctx, f"{operation} {field}", target)
        try:
            result = next_(source, info, **kwargs)
            timeout = getattr(info.schema, "resolver_timeout", None)
            if operation == "query" and timeout and field not in UNTIMED:
                # Mutations are not cut short: a write may already be committing (the store's
                # transaction timeout bounds them instead).
                # `asyncio.timeout`, not `wait_for`: the same limit without a task per query.
                try:
                    async with asyncio.timeout(timeout):
                        return await _maybe_await(result)
                except TimeoutError:
                    raise ResolverTimeoutError(
                        f"`{field}` took longer than {timeout:g} s: ask for less, or narrow the filter."
                    ) from None
            return await _maybe_await(result)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if operation == "mutation":
                await audit.finish(ctx, error)


def guard_root_fields(*root_types: type) -> None:
    """Give every field of these root types one `RootGuard` (idempotent)."""
    for root in root_types:
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if not any(isinstance(extension, RootGuard) for extension in field.extensions):
                field.extensions.append(RootGuard())


async def _maybe_await(value):
    return await value if inspect.isawaitable(value) else value
