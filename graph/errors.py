"""Domain errors. Each carries a machine code the API exposes as `extensions.code`."""

from __future__ import annotations

from typing import Any


class ContextQLError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundError(ContextQLError):
    code = "NOT_FOUND"


class ConflictError(ContextQLError):
    """A write raced another one, or would break a uniqueness or tree rule."""

    code = "CONFLICT"


class ValidationFailedError(ContextQLError):
    """Input is well-formed but violates a schema; `details["violations"]` lists each one."""

    code = "VALIDATION_FAILED"


class BadUserInputError(ContextQLError):
    code = "BAD_USER_INPUT"


class ForbiddenError(ContextQLError):
    code = "FORBIDDEN"


class StoreUnavailableError(ContextQLError):
    """A backend could not be reached or timed out.

    `retry_after` (seconds, exposed as `retryAfter`) marks a transient outage: the HTTP answer is
    then 503 with `Retry-After`. None for a lasting condition (a feature that is switched off).
    """

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, retry_after: int | None = 5, **details: Any) -> None:
        if retry_after is not None:
            details["retryAfter"] = retry_after
        super().__init__(message, **details)