"""Differences between two versions: an RFC 6902 JSON Patch for `data`, a unified diff for `content`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import jsonpatch

from contextql.graph.records import VersionRecord

COMPARED_FIELDS = ("path", "kind", "title", "content", "data", "tags", "inherit")


@dataclass(frozen=True, slots=True)
class VersionDiff:
    source: VersionRecord
    target: VersionRecord
    changed: list[str]
    data_patch: list[dict[str, Any]]
    content_diff: str


def diff_versions(source: VersionRecord, target: VersionRecord) -> VersionDiff:
    changed = [name for name in COMPARED_FIELDS if getattr(source, name) != getattr(target, name)]
    patch = jsonpatch.make_patch(source.data, target.data).patch
    lines = difflib.unified_diff(
        source.content.splitlines(keepends=True),
        target.content.splitlines(keepends=True),
        fromfile=f"{source.path}@{source.number}",
        tofile=f"{target.path}@{target.number}",
    )
    return VersionDiff(source, target, changed, patch, "".join(lines))
