"""What the telemetry hooks cost per call, tracing off (the default) and on: `python -m bench.telemetry_hooks`.

Times the hook a graph statement goes through (`graph.telemetry.statement`), the thread-context wrapper of the
embedded store (`in_context`), the index-call span helper, and a whole trivial GraphQL operation with and without
the per-operation extension (server/operation_telemetry.py). "On" installs an SDK tracer provider whose spans go
to a processor that drops them, so it counts making spans, not exporting them.
"""

from __future__ import annotations

import asyncio
import statistics
import timeit

from contextql.graph import telemetry
from contextql.graph.telemetry import LADYBUG, in_context, span, statement
from contextql.schema import build_schema
from contextql.server.operation_telemetry import operation_options

QUERY = "MATCH (c:Context {workspace: $workspace}) WHERE c.id IN $ids RETURN c"


def per_call_ns(stmt, number: int = 200_000, repeat: int = 5) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


def hooks() -> dict[str, float]:
    def bare() -> None:
        pass

    def with_statement() -> None:
        with statement(LADYBUG, QUERY):
            pass

    def with_context() -> None:
        in_context(bare)()

    def with_span() -> None:
        with span("qdrant upsert", **{"db.system": "qdrant"}):
            pass

    return {"empty call": per_call_ns(bare), "statement()": per_call_ns(with_statement),
            "in_context()": per_call_ns(with_context), "span()": per_call_ns(with_span)}


def operations(options: dict, runs: int = 3000, repeat: int = 5) -> float:
    """Microseconds per `{ __typename }` through the schema (parse cache, validation, execution)."""
    schema = build_schema(**options)

    async def run() -> float:
        best = []
        for _ in range(repeat):
            start = asyncio.get_running_loop().time()
            for _ in range(runs):
                result = await schema.execute("query Probe { __typename }")
                assert not result.errors
            best.append((asyncio.get_running_loop().time() - start) / runs * 1e6)
        return min(best)

    return asyncio.run(run())


def report(label: str) -> None:
    print(f"-- tracing {label}")
    for name, ns in hooks().items():
        print(f"  {name:<14} {ns:8.0f} ns/call")
    options = operation_options()
    used = ", ".join(getattr(o, "__name__", str(o)) for o in [*options["extensions"], *options["finished"]])
    plain, measured = [], []
    for _ in range(3):  # interleaved, so a change in the machine's load hits both alike
        plain.append(operations({}))
        measured.append(operations(options))
    print(f"  operation without telemetry {statistics.median(plain):7.1f} us, with {used} "
          f"{statistics.median(measured):7.1f} us (median of 3, each the best of 5 x 3000)")


def main() -> None:
    report("off (no OTEL_* endpoint)")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())  # no processor: spans are made and dropped
    telemetry.tracing.enabled = True
    with trace.get_tracer("bench").start_as_current_span("request"):  # statements are spanned inside a trace only
        report("on (spans made, not exported)")


if __name__ == "__main__":
    main()
