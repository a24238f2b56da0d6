"""Where a JSON Schema (draft 2020-12, plus the older spellings it still meets) holds subschemas: the keywords
whose value is one, a map of them or a list of them. Anything else (`const`, `enum`, `default`, `examples`)
is data, never walked as schema."""

from __future__ import annotations

ONE = frozenset({"additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
                 "unevaluatedItems", "unevaluatedProperties", "contentSchema", "additionalItems"})
MAP = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"})
LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
