"""A graphql-core executor that resolves trivial fields (plain reads of the source) in a tight loop.

graphql-core runs every field through `execute_field`: a `GraphQLResolveInfo` (Strawberry's
subclass, 16 slots), Strawberry's resolver wrapper (an `Info`, argument conversion, the
extension chain) and `complete_value`'s recursion, even for `Context.title`, which only returns
`self.record.title`. A children page of 50 has ~400 such fields, and that machinery was most of
its execution time (bench/results/profile-2026-12-01-run2.md).

`LeanExecutor` calls such a field's function directly and coerces the value with the scalar's
own `serialize` (a `str` in a String or ID field is its own serialization, so it is kept as is),
or executes the object's sub-selection, the way `complete_value` does.
A field qualifies ("trivial") only when running it the normal way would do nothing else:

- Strawberry built it (its `GraphQLField` links back to the `StrawberryField`), with no field
  extensions (permission classes are extensions; `RootGuard` on every root field is one), no
  arguments, not async, and the schema has no exception handlers;
- its resolver is Strawberry's default attribute read, or a plain synchronous method that takes
  only `self` (no `info`, `root` or `parent`);
- its type is a scalar or an enum, or an object type whose `is_type_of` needs no resolve info
  (none, or Strawberry's own), nullable or not; lists and abstract types are not;
- the request has no schema-extension `resolve` hook (graphql-core middleware);
- the field node carries no directive (`@include`/`@skip` are applied earlier, when fields are
  collected; anything else goes the normal way).

A list of such objects (a connection's `edges`) is completed in the loop too, item by item, when
it is a `list` of plain objects of the type (None items, awaitables, errors, other types or other
iterables: graphql-core's `complete_list_value`), and with no directive on any of its nodes (@stream).
When every field of the items' selection is trivial, a leaf or an object whose own selection is so in turn
(`edges { cursor node { path title } }`), the list is completed in one pass (`_fill`): no path, awaitable
check or call per field beyond the field's own function. The first value that is not plain (null in a
non-null field, an error, an awaitable, a value the scalar does not serialize in the loop) sends the whole
list back to the item-by-item completion, which gives the answer and errors graphql-core would.

Fields with arguments (`Context.children(first:, after:)`, see `argument_field`) are called without
Strawberry's per-call wrapper: same `Info`, same converted arguments, same completion as
`execute_field`, but the arguments are coerced and converted once per field node and request (once
per parsed document when they are all literals) when the values are ones no resolver can change
(str, int, float, bool, None, enum members); a list or an input object is converted per call, as
Strawberry does: input objects are mutable dataclasses and lists that resolvers hand on
(`updateContext` passes its input's `tags` list to the store layer), so a proof that no resolver
changes one would last only until the next resolver is written. schema/conversion.py does that
conversion with Strawberry's type work done once per field, building fresh values every call.
The 10 children of a nested page share one `children(first: 10)` node.

Root fields (Query, Mutation) whose one extension is `RootGuard` are called the same way, with
RootGuard's work done by the functions it calls itself (schema/guard.py: `check` for a synchronous
field, `guarded` — role check, audit of mutations and refusals, time limit — for an async one), so
neither the extension chain (`reduce`/`partial`, `resolve_async`, `await_maybe`) nor Strawberry's
`_async_resolver` runs. An async root field's arguments are coerced at once and converted inside its
coroutine, as in Strawberry's async resolver, so a failure surfaces at the same moment. Mutation fields
run one by one (`execute_fields_serially` → `execute_field`, overridden for them); query fields in the plan.

The sub-selections graphql-core collects below the root fields, their plans and shapes depend only on the
document when no directive in it holds a variable (and it has no @defer, @stream or fragment arguments):
they are then kept across requests (`_Decided`: `collect_subfields`, `_plan`, `_shape`) for as long as the
operation's node lives, i.e. as long as the parse cache keeps the document (schema/memo.py). Otherwise they are worked out per
request.

Everything else — abstract types, async resolvers below the root, `__typename`, fields with other
extensions, fields carrying a directive — takes graphql-core's own path, in the same loop, so the order
of fields, aliases, fragments and error paths are unchanged.
tests/api/test_lean_execution.py runs the same documents with and without this executor.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, cast
from weakref import WeakKeyDictionary

from graphql import (
    ExecutionResult, FieldNode, GraphQLField, GraphQLLeafType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLOutputType,
    GraphQLSchema, VariableNode, is_leaf_type,
)
from graphql.execution.collect_fields import CollectedFields, FieldDetails, FragmentDetails, GroupedFieldSet
from graphql.execution.executor import invalid_return_type_error, to_nodes
from graphql.execution.values import get_argument_values
from graphql.language import DirectiveNode, FragmentDefinitionNode, FragmentSpreadNode, OperationDefinitionNode, Visitor, visit
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from graphql.type.scalars import serialize_id, serialize_string
from strawberry.extensions import FieldExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from .conversion import ArgumentConverter, compile_arguments
from .guard import RootGuard, check, guarded
from .memo import MISSING, NodeMemo

__all__ = ["LeanExecutor", "argument_field", "trivial_field"]

C = TypeVar("C")  # what a classifier makes of a field (`Trivial`, `WithArgs`)


class Trivial(NamedTuple):
    """How to resolve one trivial field: its value from the source, then the leaf's coercion, the
    object's sub-selection (`leaf` None), or each list item's sub-selection (`items`)."""

    get: Callable[[Any], Any]
    leaf: GraphQLLeafType | None
    obj: GraphQLObjectType | None
    non_null: bool
    field: GraphQLField
    items: GraphQLObjectType | None = None  # a list of this object type
    list_type: GraphQLList[Any] | None = None  # that list, as declared (its items maybe non-null)


class WithArgs(NamedTuple):
    """How to call a field that has arguments (e.g. `Context.children(first:, after:)`) or a root field
    (`RootGuard`) without Strawberry's per-call wrapper: its function, and where the source and the info go."""

    func: Callable[..., Any]
    takes_self: bool
    info_name: str | None
    definition: StrawberryField
    field: GraphQLField
    info_class: type
    convert: ArgumentConverter  # Strawberry's conversion of its arguments, their types worked out once
    guarded: bool = False  # its one extension is RootGuard: schema/guard.check or .guarded around the call
    is_async: bool = False  # (guarded fields only) an async resolver: the call is schema/guard.guarded
    # Its type when that is an object type whose `is_type_of` needs no resolve info (nullable or not): a
    # value of it is completed by its sub-selection's plan, not through `complete_value`.
    obj: GraphQLObjectType | None = None


# Values a scalar field returns most often; none is awaitable, an exception or nullish.
_PLAIN = frozenset({str, int, float, bool, datetime})
# Scalars whose `serialize` returns a `str` value as it is (graphql-core's String and ID).
_STR_AS_IS = (serialize_string, serialize_id)
# One field of a selection: response name, field details, its trivial resolution, for a scalar its
# `serialize` and the type of value that `serialize` returns as it is (`str` for String and ID, else
# None), and its call with arguments (all None: graphql-core's path).
_Step = tuple[str, Any, "Trivial | None", "Callable[[Any], Any] | None", "type | None", "WithArgs | None"]


def _info_free(is_type_of: Callable[..., Any] | None) -> bool:
    """Whether an object type's `is_type_of` can be called without a resolve info: none at all, or
    the one Strawberry generates for types with interfaces (it never reads its `_info`)."""
    if is_type_of is None:
        return True
    code = getattr(is_type_of, "__code__", None)
    return (code is not None and code.co_name == "is_type_of"
            and code.co_qualname.endswith("_get_is_type_of.<locals>.is_type_of")
            and code.co_filename.endswith("strawberry/schema/schema_converter.py"))


# Per object type (weakly: tests build many schemas), the field names already looked at.
_TRIVIAL: WeakKeyDictionary[GraphQLObjectType, dict[str, Trivial | None]] = WeakKeyDictionary()


def trivial_field(schema: GraphQLSchema, field: GraphQLField) -> Trivial | None:
    """The fast way to resolve `field`, or None when it must take graphql-core's normal path."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or field.args or definition.extensions or definition.is_async:
        return None
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    converter = getattr(strawberry_schema, "schema_converter", None)
    # Exception handlers turn a resolver's error into a union member: not a plain read. Unknown: not trivial.
    if getattr(converter, "exception_handlers", None) != ():
        return None
    field_type: GraphQLOutputType = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    named = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    items = list_type = None
    if isinstance(named, GraphQLList):
        # A list of objects (e.g. a connection's `edges`); lists of scalars and nested lists are rare here.
        list_type = named
        item_type = named.of_type
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not (isinstance(inner, GraphQLObjectType) and _info_free(inner.is_type_of)):
            return None
        items = inner
    leaf = named if is_leaf_type(named) else None
    obj = named if isinstance(named, GraphQLObjectType) and _info_free(named.is_type_of) else None
    if leaf is None and obj is None and items is None:
        return None
    resolver = definition.base_resolver
    get: Callable[[Any], Any]
    if resolver is None:
        # Strawberry's basic field: `field.get_result` is `default_resolver(source, python_name)`.
        if definition.default_resolver is getattr:
            get = operator.attrgetter(definition.python_name)
        else:
            default, name = definition.default_resolver, definition.python_name
            get = lambda source: default(source, name)  # noqa: E731
    else:
        if (resolver.arguments or resolver.is_async or resolver.self_parameter is None
                or resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter
                or not callable(resolver.wrapped_func)):
            return None
        # What Strawberry's wrapper ends up calling: `base_resolver(source)`, i.e. the function with self.
        get = resolver.wrapped_func
    return Trivial(get, leaf, obj, non_null, field, items, list_type)


def _only_root_guard(definition: StrawberryField) -> bool:
    """Whether the field's one extension is `RootGuard` (itself, not a subclass), which reshapes no arguments."""
    extensions = definition.extensions
    return (len(extensions) == 1 and type(extensions[0]) is RootGuard
            and RootGuard.map_arguments is FieldExtension.map_arguments)


def argument_field(schema: GraphQLSchema, field: GraphQLField) -> WithArgs | None:
    """How to call `field`, a field with arguments or a root field, without Strawberry's wrapper; None when
    it must take graphql-core's normal path.

    Qualifies: built by Strawberry, with no field extensions (so no permission classes and no
    `map_arguments`), not async, no exception handlers, and a synchronous resolver that takes at most
    `self`, `info` and its arguments (no `root`/`parent`). What Strawberry's wrapper does for it is
    then exactly: convert the coerced arguments, call the function with the source and the info.

    A root field whose only extension is `RootGuard` qualifies too, with or without arguments, sync or async:
    Strawberry's wrapper then runs `RootGuard.resolve` (sync) or `.resolve_async` around that call, i.e.
    schema/guard's `check` or `guarded`, which the lean path calls itself."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    root = _only_root_guard(definition)
    if not root and (not field.args or definition.extensions or definition.is_async):
        return None
    converter = getattr(getattr(schema, "_strawberry_schema", None), "schema_converter", None)
    if not isinstance(converter, GraphQLCoreConverter) or getattr(converter, "exception_handlers", None) != ():
        return None
    resolver = definition.base_resolver
    if (resolver is None or (resolver.is_async and not root) or resolver.root_parameter or resolver.parent_parameter
            or not callable(resolver.wrapped_func)):
        return None
    info = resolver.info_parameter
    named = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    obj = named if isinstance(named, GraphQLObjectType) and _info_free(named.is_type_of) else None
    return WithArgs(resolver.wrapped_func, resolver.self_parameter is not None, None if info is None else info.name,
                    definition, field, converter.config.info_class,
                    compile_arguments(definition, converter.scalar_registry, converter.config),
                    root, root and resolver.is_async, obj)


def _classified(cache: WeakKeyDictionary[GraphQLObjectType, dict[str, C | None]],
                classify: Callable[[GraphQLSchema, GraphQLField], C | None],
                schema: GraphQLSchema, parent_type: GraphQLObjectType) -> dict[str, C | None]:
    """Each field of `parent_type` as `classify` sees it, worked out once per type."""
    known = cache.get(parent_type)
    if known is None:
        known = cache[parent_type] = {name: classify(schema, field) for name, field in parent_type.fields.items()}
    return known


def _trivial_fields(schema: GraphQLSchema, parent_type: GraphQLObjectType) -> dict[str, Trivial | None]:
    return _classified(_TRIVIAL, trivial_field, schema, parent_type)


# Per object type, its fields with arguments that the lean path calls (see `argument_field`).
_WITH_ARGS: WeakKeyDictionary[GraphQLObjectType, dict[str, WithArgs | None]] = WeakKeyDictionary()


def _argument_fields(schema: GraphQLSchema, parent_type: GraphQLObjectType) -> dict[str, WithArgs | None]:
    return _classified(_WITH_ARGS, argument_field, schema, parent_type)


# Converted argument values that are safe to hand to every call of a request: a resolver cannot
# change them (a list or an input object it could, so those are converted per call, as Strawberry does;
# schema/conversion.py makes that cheap).
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


# Converted arguments of field nodes whose arguments are all literals, by node (see `LeanExecutor._arguments`);
# bounded like the parser cache that keeps the documents.
_LITERAL_ARGS: dict[int, tuple[FieldNode, GraphQLField, dict[str, Any]]] = {}
_LITERAL_ARGS_MAX = 1024


def _shareable(kwargs: dict[str, Any]) -> bool:
    return all(type(value) in _IMMUTABLE or isinstance(value, enum.Enum) for value in kwargs.values())


class _Decided:
    """What an operation's document alone decides below its root fields, when no directive in it holds a variable
    (`_document_only`): the sub-selections graphql-core collects (by type and field nodes), their plans (by type
    and collected set) and the plans' shapes. The parse cache hands every request of one text the same nodes, so
    these are the same from one request to the next. Each entry holds the objects whose ids key it."""

    __slots__ = ("collected", "plans", "shapes", "shared")

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.collected: dict[tuple[Any, ...], tuple[tuple[FieldNode, ...], CollectedFields]] = {}
        self.plans: dict[tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, list[_Step] | None]] = {}
        self.shapes: dict[int, tuple[list[_Step], tuple[_ShapeEntry, ...] | None]] = {}


# By operation node, for as long as that node lives (the parse cache decides how long).
_DECIDED = NodeMemo()


def _decided(operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]) -> _Decided:
    found = _DECIDED.get((operation,))
    if found is MISSING:
        found = _Decided(_document_only(operation, fragments))
        _DECIDED.put((operation,), found)
    return found


class _RequestDependent(Visitor):
    """Finds what makes collecting fields depend on the request, not the document alone: a variable in a
    directive (`@include(if: $x)`), @defer or @stream, fragment arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False
        self._in_directive = 0

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self._in_directive += 1
        if node.name.value in ("defer", "stream"):
            self.found = True

    def leave_directive(self, *_: Any) -> None:
        self._in_directive -= 1

    def enter_variable(self, *_: Any) -> None:
        if self._in_directive:
            self.found = True

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        if node.arguments:
            self.found = True

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> None:
        if node.variable_definitions:
            self.found = True


def _document_only(operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]) -> bool:
    """Whether collecting the fields of `operation` depends on its document alone."""
    visitor = _RequestDependent()
    for node in (operation, *(details.definition for details in fragments.values())):
        visit(node, visitor)
    return not visitor.found


class _NotPlain(Exception):
    """A value `_fill` leaves to the general path."""


# One field of a plain selection (`LeanExecutor._shape`): response name, its function, whether it may be null,
# then for a scalar the type of value kept as is and its `serialize`, or for an object its `is_type_of` and the
# shape of its own selection.
_ShapeEntry = tuple[str, Callable[[Any], Any], bool, "type | None", "Callable[[Any], Any] | None",
                    "Callable[..., bool] | None", "tuple[_ShapeEntry, ...] | None"]


def _fill(shape: tuple[_ShapeEntry, ...], source: Any) -> dict[str, Any]:
    """The completed selection of `source` when every value in it is plain: a scalar of a type serialized in the
    loop, null where null is allowed, or an object of the type that is completed the same way. Anything else
    raises (`_NotPlain`, or what a function or `serialize` raised) and the caller completes the item the general
    way, which calls the functions again: trivial fields only read their source (a coroutine one returned is
    closed first, so none is left never awaited)."""
    results = {}
    for name, get, nullable, as_is, serialize, is_type_of, below in shape:
        value = get(source)
        if value is None:
            if not nullable:
                raise _NotPlain
        elif below is None:
            if type(value) is not as_is:
                if type(value) not in _PLAIN:
                    if isinstance(value, Coroutine):
                        value.close()
                    raise _NotPlain
                value = serialize(value)  # type: ignore[misc]
                if value is None or value is Undefined:
                    raise _NotPlain
        elif is_type_of(value, None) if is_type_of is not None else not isinstance(value, Awaitable):
            value = _fill(below, value)
        else:
            if isinstance(value, Coroutine):
                value.close()
            raise _NotPlain
        results[name] = value
    return results


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (graphql-core's `IncrementalExecutor` plus operation extensions), with trivial
    leaf fields resolved without a `GraphQLResolveInfo`. Pass it as `Schema(execution_context_class=...)`."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        """graphql-core's, then the executor lets go of its resolver helpers once the result is complete.

        Those helpers are bound methods of the executor, a reference cycle: everything the operation
        read (records, the request, the response) would then wait for the cyclic collector instead of
        going with the last reference. Under concurrent requests that collector ran ~500 times per
        1,200 nested reads and took 14-20 % of the CPU (bench/results/profile-2026-12-02-cycles.md).
        An incremental result (@defer/@stream) keeps them: its later payloads still run."""
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            return self._released_after(result)
        self._release(result)
        return result

    async def _released_after(self, pending: Any) -> Any:
        result = await pending
        self._release(result)
        return result

    def _release(self, result: Any) -> None:
        if isinstance(result, ExecutionResult):
            self.__dict__.pop("async_helpers", None)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            # A schema extension's `resolve` hook must see every field.
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        # The root's fields are collected per request (graphql-core's `execute_operation`), the rest by
        # `collect_subfields`, shared when they may be.
        plan = self._plan(parent_type, grouped_field_set, path is not None)
        if plan is None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        return self._execute_plan(parent_type, source_value, path, plan, position_context)

    def _execute_plan(
        self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None, plan: list[_Step],
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's `execute_fields`, with branches for the lean fields."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, fast, serialize, as_is, with_args in plan:
                if serialize is not None and fast is not None:
                    # A scalar field: a plain value is serialized right here (what `complete_leaf_value`
                    # does); anything else (None, an error, an awaitable, a custom scalar's value, a
                    # nullish serialization) takes the general trivial path below.
                    try:
                        value = fast.get(source_value)
                        if type(value) is as_is:
                            results[response_name] = value
                            continue
                        if type(value) in _PLAIN:
                            serialized = serialize(value)
                            if serialized is not None and serialized is not Undefined:
                                results[response_name] = serialized
                                continue
                        result = self._complete_got(value, fast, parent_type, path, response_name,
                                                    field_details_list, position_context)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, fast.field.type, field_details_list,
                                                Path(path, response_name, parent_type.name))
                        result = None
                elif with_args is not None:
                    result = self._execute_with_args(with_args, parent_type, source_value,
                                                     Path(path, response_name, parent_type.name),
                                                     field_details_list, position_context)
                elif fast is not None:
                    result = self._complete_trivial(fast, parent_type, source_value, path, response_name,
                                                    field_details_list, position_context)
                else:
                    result = self.execute_field(parent_type, source_value, field_details_list,
                                                Path(path, response_name, parent_type.name), position_context)
                    if result is Undefined:
                        continue
                results[response_name] = result
                if is_awaitable(result):
                    awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet, collected: bool = True
              ) -> list[_Step] | None:
        """How to run each field of this selection on `parent_type`, or None when no field is trivial.

        graphql-core memoizes the sub-selection of a list's items, so the 50 items of a page share
        one grouped field set and one plan (kept per request, with the set, so its id stays unique).
        A set from `collect_subfields` (`collected`) of an operation whose fields depend on its document
        alone is the same object request after request, and so is its plan."""
        plans: dict[tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, list[_Step] | None]]
        plans = self.__dict__.setdefault("_lean_plans", {})
        known = plans.get((parent_type, id(grouped_field_set)))
        if known is not None:
            return known[1]
        decided = self._decided() if collected else None
        found = None if decided is None else decided.plans.get((parent_type, id(grouped_field_set)))
        if found is None:
            found = (grouped_field_set, self._new_plan(parent_type, grouped_field_set))
            if decided is not None:
                decided.plans[(parent_type, id(grouped_field_set))] = found
        plans[(parent_type, id(grouped_field_set))] = found
        return found[1]

    def _new_plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> list[_Step] | None:
        trivial = _trivial_fields(self.schema, parent_type)
        with_args = _argument_fields(self.schema, parent_type)
        steps: list[_Step] | None = None
        if any(trivial.values()) or any(with_args.values()):
            steps = []
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                name = node.name.value
                fast = trivial.get(name)
                if fast is not None and not node.directives and not node.arguments and (
                        # @stream on any node of a list would change how it is completed.
                        fast.items is None or not any(d.node.directives for d in field_details_list)):
                    serialize = fast.leaf.serialize if fast.leaf is not None else None
                    as_is = str if serialize in _STR_AS_IS else None
                    steps.append((response_name, field_details_list, fast, serialize, as_is, None))
                elif fast is None and not node.directives:
                    steps.append((response_name, field_details_list, None, None, None, with_args.get(name)))
                else:
                    steps.append((response_name, field_details_list, None, None, None, None))
        return steps

    def _decided(self) -> _Decided | None:
        """What this operation's document decides (`_Decided`), when that may be shared with other requests."""
        if "_lean_decided" not in self.__dict__:
            decided = _decided(self.operation, self.fragments)
            self.__dict__["_lean_decided"] = decided if decided.shared else None
        return self.__dict__["_lean_decided"]

    def collect_subfields(self, return_type: GraphQLObjectType, field_details_list: Any) -> CollectedFields:
        """graphql-core's (memoized per request by the list's identity), shared across requests by the identity of
        the field nodes when the operation's fields depend on its document alone."""
        decided = self._decided()
        if decided is None:
            return super().collect_subfields(return_type, field_details_list)
        relevant = self._relevant_sub_fields
        mine = relevant.get((return_type, id(field_details_list)))
        if mine is not None:
            return mine[1]
        nodes = tuple(details.node for details in field_details_list)
        key = (return_type, *map(id, nodes))
        found = decided.collected.get(key)
        if found is None:
            found = decided.collected[key] = (nodes, super().collect_subfields(return_type, field_details_list))
        else:
            relevant[(return_type, id(field_details_list))] = (field_details_list, found[1])
        return found[1]

    def _complete_trivial(
        self, fast: Trivial, parent_type: GraphQLObjectType, source: Any, path: Path | None, response_name: str,
        field_details_list: Any, position_context: Any,
    ) -> Any:
        """`execute_field` + `complete_value` for a trivial field; errors are handled as there."""
        try:
            return self._complete_got(fast.get(source), fast, parent_type, path, response_name, field_details_list,
                                      position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, fast.field.type, field_details_list,
                                    Path(path, response_name, parent_type.name))
            return None

    def _complete_got(
        self, result: Any, fast: Trivial, parent_type: GraphQLObjectType, path: Path | None, response_name: str,
        field_details_list: Any, position_context: Any,
    ) -> Any:
        """`complete_value` for the value a trivial field's function returned (errors: the caller's)."""
        if self.is_awaitable(result):
            # A plain method that returned an awaitable: hand it to graphql-core as is.
            field_path = Path(path, response_name, parent_type.name)
            info = self.build_resolve_info(fast.field, to_nodes(field_details_list), parent_type, field_path)
            return self.complete_awaitable_value(
                fast.field.type, field_details_list, info, field_path, result, position_context)
        if isinstance(result, Exception):
            raise result
        if result is None or result is Undefined:
            if fast.non_null:
                raise TypeError(f"Cannot return null for non-nullable field {parent_type.name}."
                                f"{field_details_list[0].node.name.value}.")
            return None
        if fast.leaf is not None:
            return self.complete_leaf_value(fast.leaf, result)
        if fast.items is not None:
            return self._complete_objects(fast, fast.items, result, parent_type, path, response_name,
                                          field_details_list, position_context)
        obj = fast.obj
        assert obj is not None
        # `_info_free` let only is_type_of functions that never read their info through.
        if obj.is_type_of is not None and not obj.is_type_of(result, None):  # type: ignore[arg-type]
            raise invalid_return_type_error(obj, result, field_details_list)
        field_path = Path(path, response_name, parent_type.name)
        completed = self._execute_subfields(obj, field_details_list, field_path, result, position_context)
        if self.is_awaitable(completed):
            return self._await_completed(completed, fast.field.type, field_details_list, field_path)
        return completed

    def _complete_objects(
        self, fast: Trivial, obj: GraphQLObjectType, result: Any, parent_type: GraphQLObjectType, path: Path | None,
        response_name: str, field_details_list: Any, position_context: Any,
    ) -> Any:
        """`complete_list_value` for a list of objects (errors: the caller's). A list whose items are all
        plain objects of the type completes each item's sub-selection here; anything else (None items,
        awaitables, exceptions, a value of another type, an iterable that is not a list) graphql-core's way."""
        field_path = Path(path, response_name, parent_type.name)
        is_awaitable = self.is_awaitable
        is_type_of = obj.is_type_of
        if type(result) is not list or any(
                item is None or isinstance(item, Exception) or is_awaitable(item)
                or (is_type_of is not None and not is_type_of(item, None))  # type: ignore[arg-type]
                for item in result):
            info = self.build_resolve_info(fast.field, to_nodes(field_details_list), parent_type, field_path)
            assert fast.list_type is not None
            completed = self.complete_list_value(fast.list_type, field_details_list, info, field_path, result,
                                                 position_context)
        else:
            assert fast.list_type is not None
            completed = self._complete_items(obj, fast.list_type.of_type, result, field_path, field_details_list,
                                             position_context)
        if is_awaitable(completed):
            return self._await_completed(completed, fast.field.type, field_details_list, field_path)
        return completed

    def _complete_items(
        self, obj: GraphQLObjectType, item_type: Any, items: list[Any], path: Path, field_details_list: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """`complete_iterable_value` + `complete_list_item_value` for items already checked to be plain
        objects of `obj`: each item's sub-selection, an item's error handled at the item's path."""
        is_awaitable = self.is_awaitable
        plan = self._subfields_plan(obj, field_details_list, position_context)
        shape = None if plan is None else self._shape(plan)
        if shape is not None:
            try:
                return [_fill(shape, item) for item in items]
            except Exception:
                pass  # not plain, or an error: the general path below completes the items and says what, and where
        completed_results: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = Path(path, index, None)
                try:
                    if plan is None:
                        completed = self.collect_and_execute_subfields(obj, field_details_list, item_path, item,
                                                                       position_context)
                    else:
                        completed = self._execute_plan(obj, item, item_path, plan, position_context)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    completed = None
                else:
                    if is_awaitable(completed):
                        completed = self._await_completed(completed, item_type, field_details_list, item_path)
                        awaitable_indices.append(index)
                completed_results.append(completed)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed_results[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed_results

        async def get_completed_results() -> list[Any]:
            if len(awaitable_indices) == 1:
                index = awaitable_indices[0]
                completed_results[index] = await completed_results[index]
            else:
                awaited = await gather_with_cancel(*(completed_results[index] for index in awaitable_indices))
                for index, value in zip(awaitable_indices, awaited, strict=True):
                    completed_results[index] = value
            return completed_results

        return get_completed_results()

    def _subfields_plan(self, obj: GraphQLObjectType, field_details_list: Any, position_context: Any
                        ) -> list[_Step] | None:
        """The plan of an object's sub-selection, when `collect_and_execute_subfields` would come down
        to `execute_fields` with it (no @defer below, no deferred group around, no middleware); else None."""
        if position_context is not None:
            return None
        # Kept per request by the identity of the field details (as graphql-core's `collect_subfields`
        # memo is), which stay alive with the entry: the 50 edges of a page share one.
        known: dict[tuple[GraphQLObjectType, int], tuple[Any, list[_Step] | None]]
        known = self.__dict__.setdefault("_lean_subfields", {})
        found = known.get((obj, id(field_details_list)))
        if found is not None:
            return found[1]
        middleware = self.middleware_manager
        plan: list[_Step] | None = None
        if middleware is None or not middleware.middlewares:
            grouped_field_set, new_defer_usages, _ = self.collect_subfields(obj, field_details_list)
            if not new_defer_usages:
                plan = self._plan(obj, grouped_field_set)
        known[(obj, id(field_details_list))] = (field_details_list, plan)
        return plan

    def _shape(self, plan: list[_Step]) -> tuple[_ShapeEntry, ...] | None:
        """The plan as a plain selection for `_fill`, or None when a field in it (or below) is not trivial (has
        arguments, a directive, a list, an abstract type) or a sub-selection has no plan. Kept with the plan,
        as the plans are."""
        shapes: dict[int, tuple[list[_Step], tuple[_ShapeEntry, ...] | None]]
        shapes = self.__dict__.setdefault("_lean_shapes", {})
        found = shapes.get(id(plan))
        if found is not None:
            return found[1]
        decided = self._decided()  # when there is one, `plan` came from `collect_subfields`: its own too
        found = None if decided is None else decided.shapes.get(id(plan))
        if found is None:
            found = (plan, self._shape_of(plan))
            if decided is not None:
                decided.shapes[id(plan)] = found
        shapes[id(plan)] = found
        return found[1]

    def _shape_of(self, plan: list[_Step]) -> tuple[_ShapeEntry, ...] | None:
        entries: list[_ShapeEntry] = []
        for response_name, field_details_list, fast, serialize, as_is, with_args in plan:
            if fast is None or with_args is not None or fast.items is not None:
                return None
            if serialize is not None:
                entries.append((response_name, fast.get, not fast.non_null, as_is, serialize, None, None))
                continue
            obj = fast.obj
            assert obj is not None  # trivial: a leaf, a list (above) or an object
            sub = self._subfields_plan(obj, field_details_list, None)
            below = None if sub is None else self._shape(sub)
            if below is None:
                return None
            is_type_of = cast(Callable[..., bool] | None, obj.is_type_of)  # `_info_free`: never awaitable
            entries.append((response_name, fast.get, not fast.non_null, None, None, is_type_of, below))
        return tuple(entries)

    def _execute_subfields(self, obj: GraphQLObjectType, field_details_list: Any, path: Path, result: Any,
                           position_context: Any) -> AwaitableOrValue[dict[str, Any]]:
        """`collect_and_execute_subfields`, straight to the plan when there is one."""
        plan = self._subfields_plan(obj, field_details_list, position_context)
        if plan is None:
            return self.collect_and_execute_subfields(obj, field_details_list, path, result, position_context)
        return self._execute_plan(obj, result, path, plan, position_context)

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_field`, except for the root fields of a mutation: they run one by one
        (`execute_fields_serially`), not through `_execute_plan`, and go the lean way from here."""
        if parent_type is self.schema.mutation_type:
            middleware = self.middleware_manager
            node = field_details_list[0].node
            if (middleware is None or not middleware.middlewares) and not node.directives:
                spec = _argument_fields(self.schema, parent_type).get(node.name.value)
                if spec is not None:
                    return self._execute_with_args(spec, parent_type, source, path, field_details_list,
                                                   position_context)
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _execute_with_args(
        self, spec: WithArgs, parent_type: GraphQLObjectType, source: Any, field_path: Path,
        field_details_list: Any, position_context: Any,
    ) -> Any:
        """`execute_field` for a field with arguments or a root field, with Strawberry's wrapper (and
        RootGuard) done inline and the arguments coerced and converted once per field node and request when
        they are shareable."""
        field = spec.field
        return_type = field.type
        info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, field_path)
        try:
            details = field_details_list[0]
            if spec.is_async:
                # Coerced now, as graphql-core does; converted and called in the coroutine, as in Strawberry's
                # async resolver, so a failure surfaces at the same moment (the order of the errors of sibling
                # root fields depends on it).
                known = self._known_arguments(spec, details)
                coerced = self._coerced(spec, details) if known is None else None
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, field_path,
                    self._call_guarded(spec, source, info, details, known, coerced), position_context)
            strawberry_info = spec.info_class(_raw_info=info, _field=spec.definition)
            kwargs = self._arguments(spec, details, strawberry_info)
            if spec.info_name is not None:
                kwargs = {**kwargs, spec.info_name: strawberry_info}
            if spec.guarded:
                check(info)
            result = spec.func(source, **kwargs) if spec.takes_self else spec.func(**kwargs)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(return_type, field_details_list, info, field_path, result,
                                                     position_context)
            obj = spec.obj
            if obj is not None and result is not None and not isinstance(result, Exception) and (
                    obj.is_type_of is None or obj.is_type_of(result, None)):  # type: ignore[arg-type]
                # What `complete_value` comes down to for a plain object of the type (a page's `Connection`).
                completed = self._execute_subfields(obj, field_details_list, field_path, result, position_context)
            else:
                completed = self.complete_value(return_type, field_details_list, info, field_path, result,
                                                position_context)
            if self.is_awaitable(completed):
                return self._await_completed(completed, return_type, field_details_list, field_path)
            return completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, field_path)
            return None

    async def _call_guarded(self, spec: WithArgs, source: Any, info: Any, details: FieldDetails,
                            known: dict[str, Any] | None, coerced: dict[str, Any] | None) -> Any:
        """Strawberry's async resolver with `RootGuard.resolve_async` in it: the Strawberry `Info`, the
        converted arguments, then the call inside schema/guard.guarded (role check, audit, time limit)."""
        strawberry_info = spec.info_class(_raw_info=info, _field=spec.definition)
        if known is None:
            assert coerced is not None
            known = self._converted(spec, details, coerced, strawberry_info)
        kwargs = known if spec.info_name is None else {**known, spec.info_name: strawberry_info}
        if spec.takes_self:
            return await guarded(info, spec.func, source, **kwargs)
        return await guarded(info, spec.func, **kwargs)

    def _arguments(self, spec: WithArgs, details: FieldDetails, strawberry_info: Any) -> dict[str, Any]:
        """The resolver's arguments: graphql-core's coercion, then Strawberry's conversion.

        The children of a page share one field node, so its arguments are worked out once per request
        (they may name the request's variables); arguments that are all literals, once per parsed
        document (the parser cache hands every request of one query text the same nodes). Only values
        no resolver can change are kept; a failure is not kept, so every call raises it again, as the
        normal path does."""
        known = self._known_arguments(spec, details)
        if known is not None:
            return known
        return self._converted(spec, details, self._coerced(spec, details), strawberry_info)

    def _known_arguments(self, spec: WithArgs, details: FieldDetails) -> dict[str, Any] | None:
        """The converted arguments kept for this node (see `_arguments`), or None."""
        if details.fragment_variable_values is not None:
            return None
        node = details.node
        found = _LITERAL_ARGS.get(id(node))
        if found is not None and found[0] is node and found[1] is spec.field:
            return found[2]
        if spec.guarded:
            return None  # a root field runs once per request: nothing is kept per request for it
        known: dict[int, tuple[Any, dict[str, Any]]] = self.__dict__.setdefault("_lean_args", {})
        mine = known.get(id(node))
        return None if mine is None else mine[1]

    def _coerced(self, spec: WithArgs, details: FieldDetails) -> dict[str, Any]:
        """graphql-core's coercion of the node's arguments (as `execute_field` does it)."""
        field = spec.field
        node = details.node
        if not field.args and not node.arguments:
            return {}
        return get_argument_values(field, node, self.variable_values, details.fragment_variable_values,
                                   self.hide_suggestions)

    def _converted(self, spec: WithArgs, details: FieldDetails, coerced: dict[str, Any],
                   strawberry_info: Any) -> dict[str, Any]:
        """Strawberry's conversion of the coerced arguments, kept when it may be (see `_arguments`)."""
        kwargs = spec.convert(coerced, strawberry_info)
        node = details.node
        if details.fragment_variable_values is None and _shareable(kwargs):
            # Each node is kept with its id, so the id cannot be reused while the entry lives.
            if any(isinstance(argument.value, VariableNode) for argument in node.arguments or ()):
                if not spec.guarded:
                    known: dict[int, tuple[Any, dict[str, Any]]] = self.__dict__.setdefault("_lean_args", {})
                    known[id(node)] = (node, kwargs)
            else:
                if len(_LITERAL_ARGS) >= _LITERAL_ARGS_MAX:
                    _LITERAL_ARGS.clear()
                _LITERAL_ARGS[id(node)] = (node, spec.field, kwargs)
        return kwargs

    async def _await_completed(self, completed: Any, return_type: GraphQLOutputType, field_details_list: Any,
                               path: Path) -> Any:
        """As `execute_field`'s `await_completed`: an error while completing is this field's error."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
