"""Checks on user input before anything is written: sizes, shapes and context-type schemas."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from graph.errors import BadUserInputError, ValidationFailedError

from .limits import Limits

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
        if len(json.dumps(data, ensure_ascii=False).encode()) > limits.max_data_bytes:
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
    """A validator for `schema`, or `ValidationFailedError` explaining why it is not a JSON Schema."""
    if not isinstance(schema, dict):
        raise BadUserInputError("A context type's schema must be a JSON object (a JSON Schema, draft 2020-12).")
    if len(json.dumps(schema).encode()) > limits.max_schema_bytes:
        raise BadUserInputError(f"A schema may be at most {limits.max_schema_bytes} bytes.", limit=limits.max_schema_bytes)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise ValidationFailedError(
            f"Not a valid JSON Schema (draft 2020-12): {error.message}",
            violations=[{"path": _json_path(error.absolute_path), "message": error.message}],
        ) from None
    return Draft202012Validator(schema)


def violations(validator: Draft202012Validator, data: dict) -> list[dict[str, str]]:
    """Every violation of `data`, each with the JSON path where it occurs."""
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [{"path": error.json_path, "message": error.message} for error in errors]


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
