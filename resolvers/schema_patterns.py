"""Regular expressions of JSON Schemas (`pattern`, `patternProperties`) matched in linear time, by RE2.

jsonschema matches them with Python's `re`, which backtracks: a context type with `"pattern": "^(a+)+$"` made
a write of `"aaaaaaaaaaaaaaaaaaaaaaaaa!"` take 1.8 s of the event loop's thread, doubling with each further
`a`. Whoever may register a context type or a tool could stall every request, and a careless pattern would
do it by accident. RE2 (google-re2) matches in time linear in the input, at the price of the features that
need backtracking: lookaround and backreferences. A schema using them is refused when it is registered
(`unsupported_patterns`), with the path of the pattern.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema._keywords
import jsonschema._utils
import re2

from .schema_keywords import subschemas

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> Any:
    """`pattern` compiled by RE2; `re2.error` when RE2 does not run it."""
    return re2.compile(pattern, _OPTIONS)


class _LinearRe:
    """What jsonschema asks of the `re` module (`search` only), answered by RE2."""

    @staticmethod
    def search(pattern: str, string: str) -> Any:
        return compiled(pattern).search(string)


def install() -> None:
    """Idempotent. jsonschema's keyword and helper modules call `re.search` for `pattern`, `patternProperties`,
    `additionalProperties` and `unevaluatedProperties`; they get RE2 under that name instead (checked by
    tests/api/test_context_types.py, so that a jsonschema release that matches elsewhere shows)."""
    jsonschema._keywords.re = _LinearRe  # type: ignore[attr-defined]
    jsonschema._utils.re = _LinearRe  # type: ignore[attr-defined]


def _patterns(schema: Any) -> Iterator[tuple[str, str]]:
    """Every regular expression of `schema` in a schema position, with its JSON path."""
    stack: list[tuple[Any, str]] = [(schema, "$")]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("pattern"), str):
            yield f"{path}.pattern", node["pattern"]
        if isinstance(node.get("patternProperties"), dict):
            yield from ((f"{path}.patternProperties", key) for key in node["patternProperties"])
        stack.extend(subschemas(node, path))


def unsupported_patterns(schema: Any) -> list[dict[str, str]]:
    """The regular expressions of `schema` that RE2 does not run, each with its path and RE2's reason."""
    found = []
    for path, pattern in _patterns(schema):
        try:
            compiled(pattern)
        except re2.error as error:
            reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) \
                else str(error)
            found.append({"path": path, "message": f"{pattern!r}: {reason}"})
    return sorted(found, key=lambda f: f["path"])
