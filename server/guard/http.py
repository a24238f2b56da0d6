"""Request-shape checks Strawberry leaves out: a body that is JSON but not an operation is a 400, not a 500."""

from __future__ import annotations

from cross_web import HTTPException


class RequestShapeGuard:
    """Mixed into the GraphQL view before Strawberry's class."""

    async def parse_http_body(self, request):
        try:
            return await super().parse_http_body(request)  # type: ignore[misc]
        except (AttributeError, TypeError) as exc:  # e.g. `null`, `3` or `[1]` as the body
            raise HTTPException(
                400, "The body must be a JSON object with a `query` (or a list of them for a batch)."
            ) from exc
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The body must be JSON in UTF-8.") from exc
