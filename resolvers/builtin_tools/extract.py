"""`builtin.extract`: a JMESPath expression over a context's own or effective data."""

from __future__ import annotations

from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from contextql.graph.errors import BadUserInputError

from .. import contexts as ops
from .spec import BuiltinTool, Outcome


async def _run(ctx, args: dict[str, Any]) -> Outcome:
    record = await ops.target(ctx, path=args["path"])
    data = (await ops.effective(ctx, record)).data if args.get("effective", True) else record.data
    try:
        result = jmespath.search(args["expression"], data)
    except JMESPathError as error:
        raise BadUserInputError(f"Invalid JMESPath expression: {error}") from None
    return Outcome({"path": record.path, "result": result})


EXTRACT = BuiltinTool(
    name="builtin.extract",
    description="Extract values from a context's data with a JMESPath expression (effective data by default).",
    input_schema={
        "type": "object", "required": ["path", "expression"], "additionalProperties": False,
        "properties": {"path": {"type": "string"}, "expression": {"type": "string", "minLength": 1},
                       "effective": {"type": "boolean"}},
    },
    output_schema={"type": "object", "required": ["path", "result"]},
    run=_run,
)
