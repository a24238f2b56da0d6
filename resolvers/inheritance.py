"""The effective view of a context: its ancestors' data merged down to it.

Rules (also in the README): walk from the root down; child keys override;
objects merge recursively; arrays and scalars replace; an explicit `null`
removes the inherited key; a context with `inherit: false` starts afresh.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contextql.graph.records import ContextRecord


@dataclass(frozen=True, slots=True)
class Source:
    """Which context supplied the value at a JSON Pointer of the effective data."""

    pointer: str
    context: ContextRecord


@dataclass(frozen=True, slots=True)
class EffectiveView:
    data: dict[str, Any]
    sources: list[Source]


def effective_view(chain: Sequence[ContextRecord]) -> EffectiveView:
    """Merge `chain` (root first, the context itself last)."""
    start = 0
    for index, record in enumerate(chain):
        if not record.inherit:
            start = index
    data: dict[str, Any] = {}
    sources: dict[str, ContextRecord] = {}
    for record in chain[start:]:
        _merge(data, record.data, record, "", sources)
    ordered = [Source(pointer, sources[pointer]) for pointer in sorted(sources)]
    return EffectiveView(data, ordered)


def merge_patch(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply `patch` to a copy of `base` with the inheritance rules (null removes)."""
    merged = copy.deepcopy(base)
    _merge(merged, patch, None, "", {})
    return merged


def _merge(target: dict, overlay: dict, origin, prefix: str, sources: dict) -> None:
    for key, value in overlay.items():
        pointer = f"{prefix}/{_escape(key)}"
        if value is None:
            target.pop(key, None)
            _forget(sources, pointer)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, origin, pointer, sources)
            if not value:
                sources.setdefault(pointer, origin)
        else:
            target[key] = copy.deepcopy(_without_nulls(value))
            _forget(sources, pointer)
            _claim(target[key], origin, pointer, sources)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _claim(value: Any, origin, pointer: str, sources: dict) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _claim(inner, origin, f"{pointer}/{_escape(key)}", sources)
    else:
        sources[pointer] = origin


def _forget(sources: dict, pointer: str) -> None:
    for key in [k for k in sources if k == pointer or k.startswith(pointer + "/")]:
        del sources[key]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
