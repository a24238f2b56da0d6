"""Semantic versions (semver.org 2.0): validation and a string key that sorts by precedence."""

from __future__ import annotations

import re

from contextql.graph.errors import BadUserInputError

_SEMVER = re.compile(
    r"^(0|[1-9]\d{0,7})\.(0|[1-9]\d{0,7})\.(0|[1-9]\d{0,7})"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def sort_key(version: str) -> str:
    """`BadUserInputError` unless `version` is a semantic version; else its precedence key.

    A release sorts after its pre-releases ("~" follows every identifier character);
    numeric pre-release identifiers are padded so that they compare as numbers.
    """
    match = _SEMVER.match(version)
    if not match:
        raise BadUserInputError(f"Invalid version {version!r}: use a semantic version such as 1.2.0 or 2.0.0-beta.1.")
    major, minor, patch, pre = match.groups()
    core = f"{int(major):08d}.{int(minor):08d}.{int(patch):08d}"
    if pre is None:
        return core + "~"
    parts = [p.zfill(8) if p.isdigit() else p for p in pre.split(".")]
    return core + "-" + ".".join(parts)
