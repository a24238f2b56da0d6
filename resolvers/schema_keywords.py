"""Where a JSON Schema (draft 2020-12, plus the older spellings it still meets) holds subschemas: the keywords
whose value is one, a map of them or a list of them. Anything else (`const`, `enum`, `default`, `examples`)
is data, never walked as schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_ONE = frozenset({"additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
                  "unevaluatedItems", "unevaluatedProperties", "contentSchema", "additionalItems"})
_MAP = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"})
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})


def subschemas(node: dict[str, Any], path: str) -> Iterator[tuple[Any, str]]:
    """The subschemas `node` (a schema object at JSON path `path`) holds directly, each with its path."""
    for key, value in node.items():
        here = f"{path}.{key}"
        if key in _LIST and isinstance(value, list):
            yield from ((item, f"{here}[{i}]") for i, item in enumerate(value))
        elif key in _MAP and isinstance(value, dict):
            yield from ((item, f"{here}.{name}") for name, item in value.items())
        elif key in _ONE:
            yield value, here
