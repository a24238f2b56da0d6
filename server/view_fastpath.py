"""Per-request costs of Strawberry's HTTP view made cheap, with the same answers (bench/results/profile-2026-12-02-reqpath.md).

- `isinstance(result, SubscriptionExecutionResult)`, asked of every result in `AsyncBaseHTTPView.run`: a
  runtime-checkable `typing_extensions.Protocol`, whose isinstance looks `__aiter__` and `__anext__` up with
  `inspect.getattr_static` over the result's class hierarchy, uncached (20-40 us a request). The view's module
  gets `collections.abc.AsyncIterator` under that name instead: the same question (both methods present, not
  None) asked of the class, as `async for` does, with the answer cached per class.
- `parse_content_type` builds an `email.message.Message` for every request (about 11 us); here its answers are
  cached per header value (bounded: the header is the client's).
- `encode_json`: orjson, when its bytes are the standard library's (see `dumps`).
"""

from __future__ import annotations

import collections.abc
import functools
import json
from typing import Any

import orjson
import strawberry.http.async_base_view as view_module
from strawberry.types import SubscriptionExecutionResult

_parse_content_type = view_module.parse_content_type


@functools.lru_cache(maxsize=64)
def _content_type(value: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    mime_type, params = _parse_content_type(value)
    return mime_type, tuple(params.items())


def parse_content_type(content_type: str) -> tuple[str, dict[str, str]]:
    mime_type, params = _content_type(content_type)
    return mime_type, dict(params)  # a dict of its own for each caller, as Strawberry's gives


def install() -> None:
    """Idempotent. Checked by tests/api/test_http.py, so that a Strawberry release that renames these shows."""
    if view_module.SubscriptionExecutionResult is SubscriptionExecutionResult:
        view_module.SubscriptionExecutionResult = collections.abc.AsyncIterator  # type: ignore[misc,assignment]
    if view_module.parse_content_type is _parse_content_type:
        view_module.parse_content_type = parse_content_type


def installed() -> bool:
    return (view_module.SubscriptionExecutionResult is collections.abc.AsyncIterator
            and view_module.parse_content_type is parse_content_type)


# orjson writes a float under 1e-4 as `0.00001` or `1e-9` where Python writes `1e-05` and `1e-09` (the only
# floats that differ: checked on 400,000 random doubles), and non-ASCII characters and DEL as they are where
# Python escapes them (`\u00e9`, `\u007f`). Such output is encoded again by the standard library, so clients
# get the same bytes as before (`_small_exponent`). What the standard library does not write (datetimes, dataclasses), orjson is not asked to either.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(data: Any) -> str:
    """`json.dumps(data, separators=(",", ":"))`, Strawberry's encoding, several times faster for ASCII output."""
    try:
        out = orjson.dumps(data, option=_OPTIONS)
    except TypeError:  # an int over 64 bits, a key that is not a string, a str subclass: left to the standard library
        return json.dumps(data, separators=(",", ":"))
    if not out.isascii() or b"\x7f" in out or b"0.0000" in out or _small_exponent(out):
        return json.dumps(data, separators=(",", ":"))
    return out.decode("ascii")


def _small_exponent(out: bytes) -> bool:
    """Whether orjson wrote a float with a negative exponent (`1e-7`, where Python writes `1e-07`): an
    `e-` after the digits of a value that starts the document or follows `:`, `,` or `[`. Text that only
    looks like one (`"a:1e-5"`) counts too, and is then encoded by the standard library, the same bytes
    it would give anyway; an id such as `…-48e-…` does not, since its digits follow a letter or `-`.
    A literal search: a regular expression starting with a class tries every position (~50 us for 13 kB)."""
    at = out.find(b"e-")
    while at > 0:
        start = at
        while start > 0 and out[start - 1] in _NUMBER_BODY:
            start -= 1
        if start < at and out[start] in _DIGITS:
            if start > 0 and out[start - 1] == _MINUS:
                start -= 1
            if start == 0 or out[start - 1] in _BEFORE_VALUE:
                return True
        at = out.find(b"e-", at + 2)
    return False


_DIGITS = frozenset(b"0123456789")
_NUMBER_BODY = frozenset(b"0123456789.")
_BEFORE_VALUE = frozenset(b":,[")
_MINUS = ord("-")
