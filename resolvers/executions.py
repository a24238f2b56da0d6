"""Run tools: check input and permission, run under a concurrency limit, record every run.

A run is recorded as `running` before it starts and finished afterwards (so both the
history and the `execution` events show it in flight). Tool failures are outcomes, stored on
the execution (`failed` / `timed_out`), not API errors; bad input and refusals are API errors
and record nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

from jsonschema import Draft202012Validator

from contextql.graph.errors import BadUserInputError, ConflictError, ContextQLError, ValidationFailedError
from contextql.graph.events import ChangeEvent, ExecutionDetail
from contextql.graph.knowledge.records import ExecutionFilter, ExecutionRecord, ToolVersionRecord
from contextql.graph.records import ContextRecord
from contextql.graph.telemetry import TOOL_RUNS

from . import audit, builtin_tools, contexts as ops, paths, provenance, tool_http, tool_permissions, tools
from .builtin_tools import Outcome
from .clock import now_us
from .pagination import EXECUTIONS, Slice, cut, probe, window
from .request import RequestContext
from .validation import violations

MAX_CONCURRENT = 16
_limiters: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def limiter() -> asyncio.Semaphore:
    """At most MAX_CONCURRENT tool runs at once per event loop; more wait their turn."""
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = asyncio.Semaphore(MAX_CONCURRENT)
    return _limiters[loop]


async def execute(
    ctx: RequestContext, name: str, version: str | None, payload: Any,
    context_path: str | None = None, output_path: str | None = None,
) -> ExecutionRecord:
    tool, spec = await tools.require(ctx, name, version)
    tool_permissions.require(ctx.principal, tool.permissions, "execute", name, ctx.workspace)
    if tool.retired:
        raise ConflictError(f"Tool {name!r} is retired and cannot run.", name=name)
    found = violations(Draft202012Validator(spec.input_schema), payload)
    if found:
        listed = "; ".join(f"{v['path']}: {v['message']}" for v in found[:5])
        raise ValidationFailedError(
            f"The input does not satisfy the input schema of {name} {spec.version} ({len(found)} violation(s)): {listed}",
            violations=found,
        )
    subject = None if context_path is None else await ops.target(ctx, path=context_path)
    target = None if output_path is None else paths.normalize(output_path)

    async with limiter():
        run = ExecutionRecord(
            id=str(uuid.uuid4()), workspace=ctx.workspace, tool=name, tool_version=spec.version, status="running",
            input=payload, output=None, error=None, principal=ctx.principal.id, started_at=now_us(),
            finished_at=None, duration_ms=None, context_id=subject.id if subject else None, output_context_id=None,
        )
        await ctx.store.create_execution(run)
        await _publish(ctx, run, "started")
        clock = time.monotonic()
        status, output, error, outcome = "succeeded", None, None, None
        try:
            outcome = await _run(ctx, spec, payload)
            output = outcome.output
            bad = violations(Draft202012Validator(spec.output_schema), output)
            if bad:
                status = "failed"
                error = "The output does not satisfy the output schema: " + "; ".join(
                    f"{v['path']}: {v['message']}" for v in bad[:5])
        except tool_http.ToolTimedOut as exc:
            status, error = "timed_out", f"Timed out: {exc}."
        except tool_http.ToolFailed as exc:
            status, error = "failed", f"Failed: {exc}."
        except ContextQLError as exc:
            status, error = "failed", exc.message
        written = None
        if status == "succeeded" and outcome is not None:
            try:
                written = await _write_outputs(ctx, run, subject, outcome, target)
            except ContextQLError as exc:
                status, error = "failed", f"The output could not be written to {target}: {exc.message}"
        done = replace(
            run, status=status, output=output, error=error, finished_at=now_us(),
            duration_ms=int((time.monotonic() - clock) * 1000), output_context_id=written.id if written else None,
        )
        # The run's audit entry commits with its outcome (unless writing the output carried it).
        await ctx.store.finish_execution(done, audit.effects(ctx))
        audit.committed(ctx)
        TOOL_RUNS.labels(status).inc()
        await _publish(ctx, done, "finished")
        return done


async def _run(ctx: RequestContext, spec: ToolVersionRecord, payload: Any) -> Outcome:
    if spec.kind == "builtin":
        return await builtin_tools.TOOLS[spec.name].run(ctx, payload)
    config = spec.config
    output = await tool_http.call(config["url"], payload, int(config["timeoutMs"]), int(config["maxResponseBytes"]))
    return Outcome(output)


async def _write_outputs(
    ctx: RequestContext, run: ExecutionRecord, subject: ContextRecord | None, outcome: Outcome, target: str | None
) -> ContextRecord | None:
    """Lineage of what the tool wrote itself, then the output as a context (or a new version) at `target`."""
    for made, original in outcome.derived:
        await provenance.record(ctx, made, [original], run.id)
    if target is None:
        return outcome.derived[0][0] if outcome.derived else None
    data = outcome.output if isinstance(outcome.output, dict) else {"result": outcome.output}
    existing = await ops.by_path(ctx, target)
    sources = [subject.id] if subject else []
    if existing is None:
        output = ops.NewContext(path=target, kind="output", data=data, derived_from=sources)
        return (await ops.create(ctx, [output], create_parents=True, execution_id=run.id))[0]
    return await ops.update(ctx, ops.Ref(id=existing.id), ops.ContextChanges(data=data), None, sources,
                            execution_id=run.id)


async def _publish(ctx: RequestContext, run: ExecutionRecord, operation: str) -> None:
    await ctx.events.publish([ChangeEvent(
        workspace=ctx.workspace, topic="execution", operation=operation, key=run.id,
        at=run.finished_at or run.started_at, principal=run.principal,
        detail=ExecutionDetail(id=run.id, tool=run.tool, tool_version=run.tool_version, status=run.status,
                               context_id=run.context_id, output_context_id=run.output_context_id, error=run.error),
    )])


async def get(ctx: RequestContext, execution_id: str) -> ExecutionRecord | None:
    return (await ctx.store.get_executions(ctx.workspace, [execution_id])).get(execution_id)


async def find(ctx: RequestContext, where: ExecutionFilter, first: int | None, after: str | None) -> Slice[ExecutionRecord]:
    if where.status is not None and where.status not in ("running", "succeeded", "failed", "timed_out"):
        raise BadUserInputError("`status` is one of running, succeeded, failed, timed_out.")
    page = window(ctx.limits, EXECUTIONS, first, after)
    return cut(await ctx.store.find_executions(ctx.workspace, where, probe(page)), page, EXECUTIONS)


async def count(ctx: RequestContext, where: ExecutionFilter) -> int:
    return await ctx.store.count_executions(ctx.workspace, where)
