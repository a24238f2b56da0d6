"""Context paths: syntax, normalisation and tree arithmetic."""

from __future__ import annotations

import re

from contextql.graph.errors import BadUserInputError

MAX_PATH_LENGTH = 1024
MAX_SEGMENT_LENGTH = 128
MAX_DEPTH = 64
SEGMENT_PATTERN = re.compile(r"^[A-Za-z0-9_~@+=,\-][A-Za-z0-9._~@+=,\-]*$")
SEGMENT_RULE = "letters, digits and . _ ~ @ + = , - (not starting with '.')"


def normalize(raw: str) -> str:
    """Return the canonical form of `raw`: one leading '/', no empty, '.' or '..' segments.

    Repeated and trailing slashes are folded (`//a/b/` is `/a/b`); anything else
    that is not a valid path raises `BadUserInputError` naming the rule broken.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise BadUserInputError("A path must be a non-empty string such as /acme/projects.")
    if len(raw) > MAX_PATH_LENGTH:
        raise BadUserInputError(f"A path may be at most {MAX_PATH_LENGTH} characters long.", limit=MAX_PATH_LENGTH)
    segments = [s for s in raw.strip().split("/") if s]
    if not segments:
        raise BadUserInputError("The root '/' is not a context; give a path such as /acme.")
    if len(segments) > MAX_DEPTH:
        raise BadUserInputError(f"A path may have at most {MAX_DEPTH} segments.", limit=MAX_DEPTH)
    for segment in segments:
        if segment in (".", ".."):
            raise BadUserInputError(f"Path segments '.' and '..' are not allowed (in {raw!r}).")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise BadUserInputError(f"A path segment may be at most {MAX_SEGMENT_LENGTH} characters long.")
        if not SEGMENT_PATTERN.match(segment):
            raise BadUserInputError(f"Invalid path segment {segment!r}: use {SEGMENT_RULE}.")
    return "/" + "/".join(segments)


def parent_of(path: str) -> str | None:
    head = path.rsplit("/", 1)[0]
    return head or None


def ancestors_of(path: str) -> list[str]:
    """Paths of every ancestor, root first (excluding `path` itself)."""
    segments = path.strip("/").split("/")
    return ["/" + "/".join(segments[:i]) for i in range(1, len(segments))]


def lineage(path: str) -> list[str]:
    """Ancestors root first, then `path`."""
    return [*ancestors_of(path), path]


def is_within(path: str, root: str) -> bool:
    """True when `path` is `root` or lies below it."""
    return path == root or path.startswith(root + "/")
