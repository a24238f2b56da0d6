"""Every root field passes here (`RootGuard`): authorisation (resolvers/authorization.py), audit, and a time limit.

Root fields are the entry points of an operation, so checking them covers every query,
mutation and subscription, including fields added later (an unknown mutation needs `write`).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from graphql import FieldNode, GraphQLError, GraphQLResolveInfo, OperationDefinitionNode
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.nodes import convert_arguments
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


def target_of(info: GraphQLResolveInfo) -> str:
    """What a root field acts on, for the audit log: its arguments as written (variables filled in, no
    defaults), as `Info.selected_fields[0].arguments` gives them, without converting the field's sub-selection."""
    return _target(convert_arguments(info, info.field_nodes[0].arguments))


def check(info: GraphQLResolveInfo) -> None:
    """The role check of one root field; all a synchronous root field (a read) gets."""
    field = info.field_name
    authorize(info.context, action_for(info.operation.operation.value, field), field)


async def guarded(info: GraphQLResolveInfo, resolver: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """`resolver(*args, **kwargs)` of an asynchronous root field, behind the role check, audited (mutations and
    refusals) and, for a query, under the time limit. `RootGuard` and `LeanExecutor` (schema/execution.py) both
    call this: the rule is written once."""
    ctx, field = info.context, info.field_name
    operation = info.operation.operation.value
    try:
        authorize(ctx, action_for(operation, field), field)
    except ContextQLError as denied:
        await audit.record(ctx, f"{operation} {field}", target_of(info), denied)
        raise
    error: BaseException | None = None
    mutation = operation == "mutation"
    if mutation:
        audit.begin(ctx, f"{operation} {field}", target_of(info))
    try:
        result = resolver(*args, **kwargs)
        timeout = getattr(getattr(info.schema, "_strawberry_schema", None), "resolver_timeout", None)
        if operation == "query" and timeout and field not in UNTIMED:
            # Mutations are not cut short: a write may already be committing (the store's
            # transaction timeout bounds them instead).
            # `asyncio.timeout`, not `wait_for`: the same limit without a task per query.
            try:
                async with asyncio.timeout(timeout):
                    return await result if inspect.isawaitable(result) else result
            except TimeoutError:
                raise ResolverTimeoutError(
                    f"`{field}` took longer than {timeout:g} s: ask for less, or narrow the filter."
                ) from None
        return await result if inspect.isawaitable(result) else result
    except BaseException as exc:
        error = exc
        raise
    finally:
        if mutation:
            await audit.finish(ctx, error)


class RootGuard(FieldExtension):
    """Authorisation, audit and the time limit of one root field (Query and Mutation): `check` and `guarded`.

    A field extension on the root fields only: a schema-wide `resolve` hook would run for every
    field of every result, which costs a call per field for nothing. Subscriptions are checked
    by `check_subscription` (schema/pipeline.py), before their stream starts. `LeanExecutor`
    (schema/execution.py) calls `check` and `guarded` itself for a root field whose only extension is this one.
    """

    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        """Synchronous root fields (reads only): the role check, then the field."""
        check(info._raw_info)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        return await guarded(info._raw_info, next_, source, info, **kwargs)


def guard_root_fields(*root_types: type) -> None:
    """Give every field of these root types one `RootGuard` (idempotent)."""
    for root in root_types:
        for field in root.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if not any(isinstance(extension, RootGuard) for extension in field.extensions):
                field.extensions.append(RootGuard())
