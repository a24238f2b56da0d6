"""How deeply input nests, measured without recursion so that hostile input cannot exhaust the stack.

Two kinds of check. Raw texts (a JSON body or message, a GraphQL document) are scanned before
any parser sees them: brackets outside strings, counted in C (regex, translate, accumulate), and
only when there are more opening brackets than the limit (otherwise the depth cannot exceed it).
Parsed values (variables, `data`) are walked with an explicit stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

from contextql.graph.errors import BadUserInputError

# A JSON string, or an unterminated one up to the end. Possessive quantifiers: no backtracking, so
# the scan stays linear even for a body of unbalanced quotes. Bytes: UTF-8 continuation bytes never
# look like quotes, backslashes or brackets.
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)', re.S)
# GraphQL: block strings (only `\"""` escapes), one-line strings, comments.
_GRAPHQL_SKIPPED = re.compile(
    rb'"""[^"\\]*+(?:(?:\\"""|\\|"(?!""))[^"\\]*+)*+(?:"""|\Z)'
    rb'|"[^"\\\n\r]*+(?:\\[^\n\r][^"\\\n\r]*+)*+(?:"|(?=[\n\r])|\Z)'
    rb"|#[^\n\r]*+"
)


def _step_table(opening: bytes, closing: bytes) -> tuple[list[int], bytes]:
    step = [0] * 256
    for byte in opening:
        step[byte] = 1
    for byte in closing:
        step[byte] = -1
    return step, bytes(b for b in range(256) if b not in opening + closing)


_JSON_STEP, _JSON_OTHER = _step_table(b"[{", b"]}")
_GRAPHQL_STEP, _GRAPHQL_OTHER = _step_table(b"[{(", b"]})")


def _deeper(raw: bytes, limit: int, strings: re.Pattern[bytes], step: list[int], other: bytes, opening: bytes) -> bool:
    if sum(raw.count(bytes((b,))) for b in opening) <= limit:
        return False
    brackets = strings.sub(b"", raw).translate(None, other)
    return max(accumulate(map(step.__getitem__, brackets)), default=0) > limit


def json_text_too_deep(text: str | bytes, limit: int) -> bool:
    """Whether a JSON text nests arrays/objects more than `limit` levels (checked before parsing it)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return _deeper(raw, limit, _JSON_STRING, _JSON_STEP, _JSON_OTHER, b"[{")


def document_too_deep(document: str, limit: int) -> bool:
    """Whether a GraphQL document nests `{`, `[` and `(` together more than `limit` levels."""
    raw = document.encode("utf-8", "surrogatepass")
    return _deeper(raw, limit, _GRAPHQL_SKIPPED, _GRAPHQL_STEP, _GRAPHQL_OTHER, b"[{(")


def value_too_deep(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests lists/objects more than `limit` levels (a scalar is 0)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return True
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list, tuple)))
    return False


def too_deep(what: str, limit: int) -> BadUserInputError:
    return BadUserInputError(f"{what} nests deeper than {limit} levels: send flatter input.", limit=limit)


def check_request(document: str | None, variables: Any, limit: int) -> BadUserInputError | None:
    """The refusal for an operation whose document or variables nest too deeply, or None."""
    if isinstance(document, str) and document_too_deep(document, limit):
        return too_deep("The GraphQL document", limit)
    if isinstance(variables, dict):
        for name, value in variables.items():
            if value_too_deep(value, limit):
                return too_deep(f"Variable ${name}", limit)
    return None


def raw_limit(limit: int) -> int:
    """How deep a raw JSON text (body, message) may nest before it is parsed: room for the request
    envelope around the values, so that values between `limit` and this bound get a precise
    per-operation error, and only absurd nesting is refused as a whole."""
    return 2 * limit
