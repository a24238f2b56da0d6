"""Strawberry's argument conversion (`strawberry.types.arguments.convert_arguments`), with the type work done once.

For every call, Strawberry converts the coerced arguments by walking their types: the argument's GraphQL name
(`name_converter`), its type (`StrawberryAnnotation.resolve`), and for each input object each field's name and
type (`field.resolve_type`) — about 170 Python calls for `updateContext(path:, input: {title:})`, most of them
answering the same questions about the same schema every time. `compile_arguments` asks them once, per field of
the schema, and keeps the answers as a converter; each call still builds its own values (fresh input objects,
fresh lists), exactly as Strawberry does, so nothing a resolver changes is shared between calls.

A type is compiled only where Strawberry's conversion is a pure function of the type and the value: scalars and
enums (the value as it is), lists (a new list; items converted), optional types, lazy types, and input objects
built by their class (no `from_input`). Any argument whose type holds anything else (`Maybe`, `GlobalID`, inputs
with `from_input`, unknown types) is converted by Strawberry's own `convert_argument`, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import _is_leaf_type, _is_optional_leaf_type, convert_argument
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional, has_object_definition
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

__all__ = ["ArgumentConverter", "compile_arguments"]

# A compiled conversion of a value that is neither None nor UNSET (those are kept as they are, at every level,
# as `convert_argument` does); None: the value itself.
Convert = Callable[[Any], Any] | None


class _Uncompiled(Exception):
    """A type this module leaves to Strawberry."""


class _InputObject:
    """Builds one input class from its coerced dict: an implicit None for every field without a default, then
    each field present, converted (`convert_argument`'s object branch)."""

    __slots__ = ("cls", "defaults", "fields")

    def __init__(self, cls: type, defaults: dict[str, None]) -> None:
        self.cls = cls
        self.defaults = defaults
        self.fields: list[tuple[str, str, Convert]] = []  # filled after creation: input types may nest themselves

    def __call__(self, value: Mapping[str, Any]) -> Any:
        kwargs: dict[str, Any] = dict(self.defaults)
        for graphql_name, python_name, convert in self.fields:
            if graphql_name in value:
                item = value[graphql_name]  # `_apply`, inline: most fields are scalars
                kwargs[python_name] = item if convert is None or item is None or item is UNSET else convert(item)
        return self.cls(**kwargs)


def _apply(convert: Convert, value: Any) -> Any:
    if convert is None or value is None or value is UNSET:
        return value
    return convert(value)


def _list_of(item: Convert) -> Callable[[Any], Any]:
    return lambda value: [_apply(item, x) for x in value]


def _compile(type_: Any, registry: Mapping[object, Any], config: StrawberryConfig,
             objects: dict[type, _InputObject]) -> Convert:
    """The conversion of a value of `type_`, following `convert_argument` branch by branch."""
    if isinstance(type_, StrawberryMaybe):
        raise _Uncompiled  # wraps values in `Some`, refuses null: Strawberry's
    if isinstance(type_, StrawberryOptional):
        return _compile(type_.of_type, registry, config, objects)  # None and UNSET: kept by `_apply`
    if isinstance(type_, StrawberryList):
        if (_is_leaf_type(type_.of_type, registry, skip_classes=(GlobalID,))
                or _is_optional_leaf_type(type_.of_type, registry, skip_classes=(GlobalID,))):
            return list  # a copy: graphql-core gives every request that omits the value the same default
        return _list_of(_compile(type_.of_type, registry, config, objects))
    if _is_leaf_type(type_, registry):
        if type_ is GlobalID:
            raise _Uncompiled
        return None
    if isinstance(type_, LazyType):
        return _compile(type_.resolve_type(), registry, config, objects)
    if has_enum_definition(type_):
        return _compile(type_.__strawberry_definition__, registry, config, objects)
    if has_object_definition(type_):
        known = objects.get(type_)
        if known is not None:
            return known
        definition = type_.__strawberry_definition__
        if definition.from_input is not None:
            raise _Uncompiled
        defaults: dict[str, None] = {}
        if definition.is_input:
            defaults = {field.python_name: None for field in definition.fields
                        if field.default_value is MISSING and field.default_factory is MISSING}
        built = objects[type_] = _InputObject(type_, defaults)
        built.fields = [(config.name_converter.from_field(field), field.python_name,
                         _compile(field.resolve_type(type_definition=definition), registry, config, objects))
                        for field in definition.fields]
        return built
    raise _Uncompiled


class ArgumentConverter:
    """`convert_arguments(coerced, field.arguments, ...)` of one field, its types worked out once."""

    __slots__ = ("arguments", "config", "registry")

    def __init__(self, arguments: list[tuple[str, str, Convert, Any, bool]], registry: Mapping[object, Any],
                 config: StrawberryConfig) -> None:
        self.arguments = arguments  # GraphQL name, Python name, conversion, type, compiled
        self.registry = registry
        self.config = config

    def __call__(self, coerced: dict[str, Any], info: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name, python_name, convert, type_, compiled in self.arguments:
            if name in coerced:
                if compiled:
                    value = coerced[name]  # `_apply`, inline
                    kwargs[python_name] = (value if convert is None or value is None or value is UNSET
                                           else convert(value))
                else:
                    kwargs[python_name] = convert_argument(coerced[name], type_, scalar_registry=self.registry,
                                                           config=self.config, info=info, path=(name,))
        return kwargs


def compile_arguments(definition: StrawberryField, registry: Mapping[object, Any],
                      config: StrawberryConfig) -> ArgumentConverter:
    """The conversion of `definition`'s arguments; an argument whose type this module does not compile is
    converted by Strawberry, per call."""
    arguments: list[tuple[str, str, Convert, Any, bool]] = []
    for argument in definition.arguments:
        assert argument.python_name
        type_ = argument.type
        try:
            # Input classes are compiled afresh per argument: one that failed half-way is never reused.
            convert, compiled = _compile(type_, registry, config, {}), True
        except Exception:  # _Uncompiled, or a type this module did not foresee: Strawberry's way
            convert, compiled = None, False
        arguments.append((config.name_converter.from_argument(argument), argument.python_name, convert, type_,
                          compiled))
    return ArgumentConverter(arguments, registry, config)
