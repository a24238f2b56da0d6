"""`builtin.snapshot`: copy a context and its subtree to a new path (each copy derived from its original)."""

from __future__ import annotations

from typing import Any

from contextql.graph.errors import BadUserInputError

from .. import contexts as ops, paths
from .spec import BuiltinTool, Outcome


async def _run(ctx, args: dict[str, Any]) -> Outcome:
    root = await ops.target(ctx, path=args["path"])
    target = paths.normalize(args["to"])
    if paths.is_within(target, root.path):
        raise BadUserInputError(f"Cannot snapshot {root.path} into its own subtree ({target}).")
    originals = [root, *await ops.descendants(ctx, root, None)]
    items = [
        ops.NewContext(
            path=target + r.path[len(root.path):], kind=r.kind, title=r.title, content=r.content,
            data=r.data, tags=r.tags, inherit=r.inherit,
        )
        for r in originals
    ]
    created = await ops.create(ctx, items, create_parents=True)
    by_path = {r.path: r for r in created}
    derived = [(by_path[target + r.path[len(root.path):]], r) for r in originals]
    return Outcome({"root": target, "created": len(created), "paths": [c.path for c, _ in derived]}, derived)


SNAPSHOT = BuiltinTool(
    name="builtin.snapshot",
    description="Copy a context and everything below it to a new path; every copy records its original as `derivedFrom`.",
    input_schema={
        "type": "object", "required": ["path", "to"], "additionalProperties": False,
        "properties": {"path": {"type": "string"}, "to": {"type": "string"}},
    },
    output_schema={
        "type": "object", "required": ["root", "created", "paths"],
        "properties": {"created": {"type": "integer"}, "paths": {"type": "array", "items": {"type": "string"}}},
    },
    run=_run,
)
