"""Turn settings into the schema's abuse limits, persisted operations and production switches."""

from __future__ import annotations

from typing import Any

from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.schema.config import StrawberryConfig

from ..auth import auth_configured
from ..settings import Settings
from .cost import CostModel
from .extension import OperationLimits
from .persisted import PersistedQueries, load_registered
from .ratelimit import LocalRateLimiter, RateLimiter, RedisRateLimiter


def rate_limiter(settings: Settings) -> RateLimiter | None:
    if not (settings.rate_limit_operations or settings.rate_limit_cost):
        return None
    explicit = {"rate_limit_operations", "rate_limit_cost"} & settings.model_fields_set
    if not auth_configured(settings) and not explicit:
        return None  # the local, unauthenticated default (benchmarks, development) is not limited unless asked
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.rate_limit_operations, settings.rate_limit_cost)
    return LocalRateLimiter(settings.rate_limit_operations, settings.rate_limit_cost)


class GuardSetup:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        explicit = settings.model_fields_set
        self.introspection = settings.introspection if settings.introspection is not None else not settings.production
        # In production GraphiQL is served only when asked for explicitly.
        self.graphiql = settings.graphiql and (not settings.production or "graphiql" in explicit)
        self.limiter = rate_limiter(settings)
        self.model = CostModel(default_first=settings.page_size_default, max_first=settings.page_size_max)
        self.persisted = PersistedQueries(
            automatic=settings.persisted_queries, registered=load_registered(settings.persisted_queries_file),
            only=settings.persisted_queries_only,
        )

    def schema_options(self) -> dict[str, Any]:
        """build_schema's arguments: the limits run after validation; no introspection is a validation rule
        (what Strawberry's DisableIntrospection adds)."""
        limits = OperationLimits(model=self.model, max_cost=self.settings.max_query_cost, limiter=self.limiter)
        config = StrawberryConfig(
            batching_config={"max_operations": self.settings.max_batch} if self.settings.max_batch > 1 else None,
            disable_field_suggestions=self.settings.production,
        )
        return {"after_validation": [limits], "config": config, "resolver_timeout": self.settings.resolver_timeout,
                "validation_rules": [] if self.introspection else [NoSchemaIntrospectionCustomRule]}
