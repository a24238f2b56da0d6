"""`builtin.render`: fill a Jinja template from a context's effective data (sandboxed)."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from contextql.graph.errors import BadUserInputError

from .. import contexts as ops
from .spec import BuiltinTool, Outcome

# The sandbox refuses attribute tricks; StrictUndefined makes a missing key an error, not "".
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


async def _run(ctx, args: dict[str, Any]) -> Outcome:
    record = await ops.target(ctx, path=args["path"])
    view = await ops.effective(ctx, record)
    try:
        text = _ENV.from_string(args["template"]).render(
            data=view.data, path=record.path, title=record.title, content=record.content, tags=record.tags
        )
    except TemplateError as error:
        raise BadUserInputError(f"The template failed: {error}") from None
    return Outcome({"path": record.path, "text": text})


RENDER = BuiltinTool(
    name="builtin.render",
    description="Render a Jinja template with a context's effective `data`, `path`, `title`, `content` and `tags`.",
    input_schema={
        "type": "object", "required": ["path", "template"], "additionalProperties": False,
        "properties": {"path": {"type": "string"}, "template": {"type": "string", "maxLength": 65536}},
    },
    output_schema={"type": "object", "required": ["path", "text"], "properties": {"text": {"type": "string"}}},
    run=_run,
)
