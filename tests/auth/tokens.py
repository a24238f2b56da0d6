"""Test identity provider: signing keys, token minting, and a real local HTTP server for JWKS / OIDC discovery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

SECRET = "test-secret-of-at-least-32-bytes-long!!"
ISSUER, AUDIENCE = "https://issuer.test", "contextql"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {"sub": "ana", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
              "roles": ["admin"], "workspaces": ["ws"]}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs256(secret: str = SECRET, **overrides: Any) -> str:
    return jwt.encode({"alg": "HS256"}, claims(**overrides), OctKey.import_key(secret))


def unsigned(**overrides: Any) -> str:
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims(**overrides)).encode())}."


def hmac_with(key: bytes, kid: str | None = None, **overrides: Any) -> str:
    """HS256 signed with arbitrary bytes (e.g. an RSA public key's PEM: algorithm confusion)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims(**overrides)).encode())}"
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


class Provider:
    """An OIDC provider on 127.0.0.1: `/.well-known/openid-configuration` and `/jwks.json`, keys rotatable."""

    def __init__(self) -> None:
        self.keys: list = [RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True),
                           ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)]
        self.jwks_hits = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/jwks.json"}
                elif self.path == "/jwks.json":
                    provider.jwks_hits += 1
                    body = {"keys": [k.as_dict(private=False) for k in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def key(self, kid: str):
        return next(k for k in self.keys if k.kid == kid)

    def rotate(self, kid: str) -> None:
        """Publish a new RSA key (and keep the old ones), as a provider does before signing with it."""
        self.keys.append(RSAKey.generate_key(2048, parameters={"kid": kid}, private=True))

    def token(self, kid: str = "rsa-1", **overrides: Any) -> str:
        key = self.key(kid)
        alg = "ES256" if isinstance(key, ECKey) else "RS256"
        return jwt.encode({"alg": alg, "kid": kid}, claims(**{"iss": self.issuer, **overrides}), key)

    def public_pem(self, kid: str = "rsa-1") -> bytes:
        return self.key(kid).as_pem(private=False)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def keyset_of(provider: Provider) -> KeySet:
    return KeySet.import_key_set({"keys": [k.as_dict(private=False) for k in provider.keys]})
