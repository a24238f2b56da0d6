"""Running a round of concurrent GraphQL operations and judging every outcome.

A round is a list of `Op`s started together (`asyncio.gather` over the in-process ASGI client,
so they interleave at every await of the resolvers and the store). Each op names the error
codes a loser may answer; anything else, and above all INTERNAL_SERVER_ERROR or an error
without a code or message, fails the test with the seed and round, so a run can be replayed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .conftest import SEED

# Words that would mean engine internals reached a client.
LEAKS = ("cypher", "traceback", "neo4j", "ladybug", "constraint", "exception", "node(")


@dataclass
class Op:
    name: str
    query: str
    variables: dict[str, Any]
    allowed: frozenset[str] = frozenset()  # error codes a losing op may answer
    tag: Any = None  # whatever the test needs to judge the result


@dataclass
class Outcome:
    op: Op
    code: str | None  # None: succeeded
    data: dict[str, Any] | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


@dataclass
class Round:
    test: str
    number: int
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.test} round {self.number} (CONTEXTQL_RACE_SEED={SEED})"

    def ok(self, name: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.op.name == name and o.ok]

    def failed(self, name: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.op.name == name and not o.ok]

    def summary(self) -> str:
        counts: dict[tuple[str, str], int] = {}
        for o in self.outcomes:
            key = (o.op.name, o.code or "ok")
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(f"{name} {code}: {n}" for (name, code), n in sorted(counts.items()))


async def run_round(api, test: str, number: int, ops: list[Op]) -> Round:
    """Start every op at once; returns the round with one outcome per op (in op order)."""
    bodies = await asyncio.gather(*(api.run(op.query, **op.variables) for op in ops))
    result = Round(test, number)
    unexpected = []
    for op, body in zip(ops, bodies):
        errors = body.get("errors") or []
        if not errors:
            result.outcomes.append(Outcome(op, None, body["data"]))
            continue
        first = errors[0]
        code = (first.get("extensions") or {}).get("code")
        message = first.get("message") or ""
        result.outcomes.append(Outcome(op, code, body.get("data"), message))
        if code not in op.allowed or not message.strip() or any(w in message.lower() for w in LEAKS):
            unexpected.append(f"{op.name} {op.variables}: {code}: {message}")
    shown = "\n  ".join(unexpected[:8]) + (f"\n  ... and {len(unexpected) - 8} more" if len(unexpected) > 8 else "")
    assert not unexpected, f"{result.label}: unexpected answers [{result.summary()}]:\n  {shown}"
    return result
