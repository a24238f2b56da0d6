"""Authentication (composition root): Bearer JWTs (HS256 or OIDC/JWKS) and API keys -> `Principal`.

`Authenticator.authenticate(headers_or_params)` is the single entry for HTTP, SSE and
WebSocket `connection_init`; `Authenticator.workspace` picks the workspace a request acts in.
"""

from .authenticator import WORKSPACE_HEADER, Authenticator, auth_configured, requested_workspace
from .jwks import AuthUnavailableError

__all__ = ["WORKSPACE_HEADER", "AuthUnavailableError", "Authenticator", "auth_configured", "requested_workspace"]
