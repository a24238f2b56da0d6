"""Per-operation limits that run after validation and before execution: cost, then rate."""

from __future__ import annotations

from graphql import GraphQLError
from opentelemetry import trace
from strawberry.types.execution import ExecutionContext

from ..metrics import RATE_LIMITED
from .cost import CostMemo, CostModel
from .ratelimit import RateLimiter, retry_after


class OperationLimits:
    """Refuses an operation whose estimated cost is over `max_cost` (QUERY_TOO_COMPLEX), or a
    principal over its rate (RATE_LIMITED, with `retryAfter` seconds and HTTP 429 + Retry-After).

    A step of the schema's pipeline after validation (schema/pipeline.py): it prices valid documents only.
    One for the server (and its one schema), called per operation.
    """

    def __init__(self, *, model: CostModel, max_cost: int, limiter: RateLimiter | None) -> None:
        self.model, self.max_cost, self.limiter = model, max_cost, limiter
        self.costs = CostMemo(model)

    async def __call__(self, ec: ExecutionContext) -> None:
        if ec.pre_execution_errors or ec.graphql_document is None:
            return
        cost = self.costs.cost(ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables)
        trace.get_current_span().set_attribute("graphql.operation.cost", cost)  # the operation's span, if traced
        error = None
        if self.max_cost and cost > self.max_cost:
            error = GraphQLError(
                f"This operation's estimated cost is {cost}, over the limit of {self.max_cost}: "
                "ask for fewer items (`first`) or fewer nested lists.",
                extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "limit": self.max_cost},
            )
        elif self.limiter is not None:
            context = ec.context
            wait = await self.limiter.take(_rate_key(context), cost)
            if wait > 0:
                RATE_LIMITED.inc()
                seconds = retry_after(wait)
                error = GraphQLError(
                    f"Too many requests: retry in {seconds} s.",
                    extensions={"code": "RATE_LIMITED", "retryAfter": seconds},
                )
                response = getattr(context, "response", None)
                if response is not None and hasattr(response, "headers"):
                    response.headers["Retry-After"] = str(seconds)
                    response.status_code = 429
        if error is not None:
            ec.pre_execution_errors = [error]


def _rate_key(context) -> str:
    principal = context.principal
    if principal.kind != "anonymous":
        return principal.id
    # Unauthenticated servers: count per client address.
    request = getattr(context, "request", None)
    client = getattr(request, "client", None)
    return f"anonymous@{client.host if client else 'local'}"
