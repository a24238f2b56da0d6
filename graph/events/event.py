"""The change event record."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One committed change.

    `topic` says what kind of thing changed (`context`, `relationship`, `execution`,
    `index`); `operation` what happened to it (`created`, `updated`, `moved`,
    `deleted`, `reverted`, ...). `key` orders events: events with the same key are
    delivered in publication order.
    """

    workspace: str
    topic: str
    operation: str
    key: str
    at: int
    principal: str
    path: str | None = None
    kind: str | None = None
    version: int | None = None
    changed: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "ChangeEvent":
        return cls(**json.loads(text))
