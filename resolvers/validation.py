"""Checks on user input before anything is written: sizes, shapes and context-type schemas."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

import httpx
import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from contextql.graph.errors import BadUserInputError, ValidationFailedError

from .limits import Limits
from .nesting import json_text_too_deep, raw_limit, too_deep, value_too_deep
from .schema_keywords import subschemas
from .schema_patterns import install as _linear_patterns, unsupported_patterns

# Every validator of this process (context types, tool signatures) matches patterns with RE2, in linear time.
_linear_patterns()

logger = logging.getLogger("contextql.validation")

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "1-64 characters: a letter, then letters, digits, '_', '.' or '-'"
TAG_PATTERN = re.compile(r"^[^\s,][^,]*$")


def check_kind(kind: str) -> str:
    if not NAME_PATTERN.match(kind):
        raise BadUserInputError(f"Invalid kind {kind!r}: {NAME_RULE}.")
    return kind


def check_fields(
    limits: Limits,
    *,
    title: str | None = None,
    content: str | None = None,
    data: Any = None,
    tags: list[str] | None = None,
) -> None:
    if title is not None and len(title) > limits.max_title_length:
        raise BadUserInputError(f"`title` may be at most {limits.max_title_length} characters.", limit=limits.max_title_length)
    if content is not None and len(content.encode()) > limits.max_content_bytes:
        raise BadUserInputError(f"`content` may be at most {limits.max_content_bytes} bytes.", limit=limits.max_content_bytes)
    if data is not None:
        if not isinstance(data, dict):
            raise BadUserInputError("`data` must be a JSON object (for example {\"owner\": \"ana\"}).")
        if value_too_deep(data, limits.max_json_depth):  # also after a merge, and whatever the transport
            raise too_deep("`data`", limits.max_json_depth)
        try:
            size = len(json.dumps(data, ensure_ascii=False, allow_nan=False).encode())
        except ValueError:
            raise BadUserInputError("`data` may not hold NaN or Infinity: JSON has no such numbers.") from None
        if size > limits.max_data_bytes:
            raise BadUserInputError(f"`data` may be at most {limits.max_data_bytes} bytes as JSON.", limit=limits.max_data_bytes)
    if tags is not None:
        if len(tags) > limits.max_tags:
            raise BadUserInputError(f"At most {limits.max_tags} tags per context.", limit=limits.max_tags)
        for tag in tags:
            if not tag or len(tag) > limits.max_tag_length or not TAG_PATTERN.match(tag):
                raise BadUserInputError(
                    f"Invalid tag {tag!r}: 1-{limits.max_tag_length} characters, no commas, not starting with a space."
                )


def normalize_tags(tags: list[str]) -> list[str]:
    """Tags are a set: duplicates dropped, first occurrence order kept."""
    return list(dict.fromkeys(tags))


def check_schema(schema: Any, limits: Limits) -> Draft202012Validator:
    """A validator for `schema`, or `ValidationFailedError` explaining why it is not a usable JSON Schema:
    not valid against the draft 2020-12 meta-schema, or a `$ref`/`$dynamicRef` that does not resolve."""
    if not isinstance(schema, dict):
        raise BadUserInputError("A context type's schema must be a JSON object (a JSON Schema, draft 2020-12).")
    if value_too_deep(schema, limits.max_json_depth):
        raise too_deep("A context type's schema", limits.max_json_depth)
    if len(json.dumps(schema).encode()) > limits.max_schema_bytes:
        raise BadUserInputError(f"A schema may be at most {limits.max_schema_bytes} bytes.", limit=limits.max_schema_bytes)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ValidationFailedError(
            f"Not a valid JSON Schema (draft 2020-12): {error.message}",
            violations=[{"path": _json_path(error.absolute_path), "message": error.message}],
        ) from None
    unsupported = unsupported_patterns(schema)
    if unsupported:
        listed = "; ".join(f"{u['path']}: {u['message']}" for u in unsupported[:5])
        raise ValidationFailedError(
            f"The schema has {len(unsupported)} regular expression(s) that ContextQL does not run: {listed}. "
            "Patterns are matched in linear time (RE2 syntax): no lookaround and no backreferences.",
            violations=[{"path": u["path"], "message": u["message"]} for u in unsupported],
        )
    unresolved = unresolvable_refs(schema, limits.schema_ref_bases)
    if unresolved:
        listed = "; ".join(f"{u['path']}: {u['ref']!r}" for u in unresolved[:5])
        raise ValidationFailedError(
            f"The schema has {len(unresolved)} reference(s) that do not resolve: {listed}. A `$ref` must point "
            "inside the schema (e.g. \"#/$defs/name\")"
            + (f" or under {', '.join(limits.schema_ref_bases)}." if limits.schema_ref_bases else "; remote references are off."),
            violations=[{"path": u["path"], "message": u["message"]} for u in unresolved],
        )
    return validator_for(schema, limits.schema_ref_bases)


# -- references -------------------------------------------------------------------------
REMOTE_SCHEMA_TIMEOUT = 5.0


def validator_for(schema: dict, ref_bases: Iterable[str] = ()) -> Draft202012Validator:
    """A validator that resolves references only inside `schema`, the bundled meta-schemas, and
    under `ref_bases` (jsonschema's default would fetch any URL while validating a write)."""
    return Draft202012Validator(schema, registry=_registry(tuple(ref_bases)))


@functools.lru_cache(maxsize=64)
def _registry(ref_bases: tuple[str, ...]) -> Registry:
    def retrieve(uri: str) -> Resource:
        if not any(uri.startswith(base) for base in ref_bases):
            raise NoSuchResource(uri)
        return _fetch(uri)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


@functools.lru_cache(maxsize=256)
def _fetch(uri: str) -> Resource:
    """A remote schema under an allowed base: fetched once per process, bounded in size and depth."""
    limits = Limits()
    response = httpx.get(uri, timeout=REMOTE_SCHEMA_TIMEOUT, follow_redirects=False)
    response.raise_for_status()
    if len(response.content) > limits.max_schema_bytes or json_text_too_deep(response.content, raw_limit(limits.max_json_depth)):
        raise ValueError(f"{uri} is too large or too deeply nested for a schema")
    return Resource.from_contents(response.json(), default_specification=DRAFT202012)


def unresolvable_refs(schema: dict, ref_bases: Iterable[str] = ()) -> list[dict[str, str]]:
    """Every `$ref` and `$dynamicRef` of `schema` (in schema positions, not inside `const`, `enum`,
    `default` or `examples`) that does not resolve, with its JSON path."""
    resolver = SPECIFICATIONS.combine(_registry(tuple(ref_bases))).resolver_with_root(DRAFT202012.create_resource(schema))
    found: list[dict[str, str]] = []
    stack: list[tuple[Any, str, Any]] = [(schema, "$", resolver)]
    while stack:
        node, path, resolver = stack.pop()
        if not isinstance(node, dict):
            continue
        if path != "$" and isinstance(node.get("$id"), str):
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
        for keyword in ("$ref", "$dynamicRef"):
            ref = node.get(keyword)
            if not isinstance(ref, str):
                continue
            try:
                resolver.lookup(ref)
            except Unresolvable:
                found.append({"path": f"{path}.{keyword}", "ref": ref,
                              "message": f"`{keyword}` {ref!r} does not resolve"})
        stack.extend((child, where, resolver) for child, where in subschemas(node, path))
    return sorted(found, key=lambda f: f["path"])


def violations(validator: Draft202012Validator, data: dict) -> list[dict[str, str]]:
    """Every violation of `data`, each with the JSON path where it occurs.

    A schema that cannot be applied (a reference stored before references were checked, a remote
    one that is unreachable now) refuses the write with VALIDATION_FAILED, never an internal error."""
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    except Unresolvable as error:
        raise _unusable(f"a reference does not resolve ({error})") from None
    except re2.error as error:  # a pattern stored before patterns were checked at registration
        raise _unusable(f"a pattern needs backtracking ({error})", "whose patterns use no lookaround and no "
                        "backreferences") from None
    except Exception as error:  # defence in depth: a validator failure is the schema's problem
        logger.warning("context-type schema could not be applied", exc_info=error)
        raise _unusable("the validator could not apply it") from None
    return [{"path": error.json_path, "message": error.message} for error in errors]


def _unusable(reason: str, fix: str = "whose every `$ref` resolves") -> ValidationFailedError:
    return ValidationFailedError(
        f"This context type's schema cannot be applied: {reason}. Register the type again with a schema {fix}.",
        violations=[{"path": "$", "message": reason}],
    )


def require_valid(validator: Draft202012Validator, data: dict, *, kind: str, path: str) -> None:
    found = violations(validator, data)
    if found:
        listed = "; ".join(f"{v['path']}: {v['message']}" for v in found[:5])
        raise ValidationFailedError(
            f"`data` of {path} does not satisfy context type {kind!r} ({len(found)} violation(s)): {listed}",
            violations=found,
        )


def _json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
