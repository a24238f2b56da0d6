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
    """The backend could not be reached or timed out."""

    code = "SERVICE_UNAVAILABLE"
