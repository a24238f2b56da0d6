"""Configuration from the environment (`CONTEXTQL_*`) or a `.env` file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contextql.resolvers.limits import Limits

_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]+")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTEXTQL_", env_file=".env", extra="ignore")

    graph: Literal["ladybug", "neo4j"] = Field("ladybug", description="Graph store: embedded LadybugDB or Neo4j.")
    data_dir: Path = Field(Path(".contextql"), description="Folder for the embedded graph and its search index (index/).")
    ladybug_buffer_pool_mb: int | None = Field(
        None, ge=64, description="Memory cap of the embedded graph engine, MB (unset: 512 + the database's size on disk)."
    )
    ladybug_checkpoint_wal_mb: float = Field(
        4.0, ge=0, description=(
            "Checkpoint the embedded graph once its write-ahead log passes this many MB, or earlier when its "
            "changes fill a quarter of the buffer pool (0: only at 16 MB). Larger: cheaper writes, slower recovery."
        ),
    )
    ladybug_inline_read_ms: float = Field(
        20.0, ge=0, description=(
            "Run an embedded graph read on the server's event-loop thread for up to this many ms of CPU (most "
            "take under 2, a filtered list of 50,000 contexts up to ~12); one that needs longer finishes on a "
            "reader thread (0: always on reader threads)."
        ),
    )
    neo4j_uri: str | None = Field(None, description="bolt:// (single server) or neo4j:// (cluster routing); implies graph=neo4j.")
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str = "neo4j"
    neo4j_timeout: float = Field(10.0, description="Transaction timeout in seconds.")
    host: str = "127.0.0.1"
    port: int = 8000
    workspace: str = Field("default", description="Workspace of the anonymous local principal.")
    graphiql: bool = Field(True, description="Serve GraphiQL to browsers at /graphql.")
    # -- CORS (browser pages on other origins calling the API); empty: no CORS headers at all --------
    cors_origins: str = Field("", description="Comma-separated origins allowed to call the API from a browser, or `*`.")
    cors_allow_credentials: bool = Field(False, description="Let those origins send cookies / HTTP auth (not with `*`).")
    cors_max_age: int = Field(600, description="Seconds a browser may cache a preflight answer.")
    max_body_bytes: int = Field(2 * 1024 * 1024, description="Largest accepted request body.")
    page_size_default: int = 20
    page_size_max: int = 100
    max_bulk: int = Field(1000, description="Most contexts one createContexts call may create.")
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_json_depth: int = Field(64, description="Deepest nesting of any input: a JSON value (variables, data), a GraphQL document, a chain of fragment spreads.")
    schema_ref_bases: list[str] = Field([], description="Base URLs a context type's schema may `$ref` (fetched once, cached); "
                                                        "empty: every `$ref` must point inside the schema.")
    log_level: str = Field("info", description="Least severe log level written: debug, info, warning, error.")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="Log lines as JSON objects or plain text; auto: text on a terminal, JSON otherwise.")
    metrics: bool = Field(True, description="Serve Prometheus metrics at GET /metrics.")
    metrics_token: str | None = Field(None, description="Bearer token /metrics requires (unset: none).")
    ws_ping_interval: float | None = Field(
        None, description="Seconds between WebSocket keepalive pings (unset: none). A ping a slow subscriber cannot "
        "answer in time closes it with 1011, so by default subscribers are never cut off for reading slowly; "
        "they get EventsDropped instead, and TCP finds dead peers.")
    debug_stats: bool = Field(False, description="Serve GET /debug/stats (store round trips) for benchmarks; keep off in production.")
    # -- authentication (server/auth/): any of these turns anonymous access off ----------
    auth_jwt_secret: str | None = Field(None, description="HS256 shared secret for Bearer JWTs (simple setups).")
    auth_oidc_issuer: str | None = Field(None, description="OIDC issuer URL; its JWKS is found by discovery.")
    auth_jwks_url: str | None = Field(None, description="JWKS URL for RS256/ES256 Bearer JWTs.")
    auth_issuer: str | None = Field(None, description="Required `iss` (defaults to the OIDC issuer).")
    auth_audience: str | None = Field(None, description="Required `aud`.")
    auth_algorithms: list[str] = Field(["RS256", "ES256"], description="Accepted JWKS algorithms.")
    auth_leeway: int = Field(30, description="Clock skew allowed on exp/nbf, seconds.")
    auth_jwks_cache_seconds: int = Field(600, description="How long fetched signing keys are trusted.")
    auth_claim_id: str = Field("sub", description="Claim naming the principal.")
    auth_claim_roles: str = Field("roles", description="Claim with roles: a list, or {workspace: [roles]}.")
    auth_claim_workspaces: str = Field("workspaces", description="Claim with the principal's workspaces.")
    auth_claim_kind: str = Field("kind", description="Claim with the principal kind (user, agent, service).")
    auth_api_keys: bool = Field(False, description="Accept API keys (`Authorization: Bearer cq_...` or X-API-Key).")
    auth_api_key_overlap: int = Field(3600, description="Seconds a rotated-out API key keeps working.")
    # -- abuse limits and production mode (server/guard/) --------------------------------
    production: bool = Field(False, description="Introspection and GraphiQL off unless enabled; no field suggestions.")
    introspection: bool | None = Field(None, description="Allow introspection (default: off in production).")
    max_query_cost: int = Field(50_000, description="Most estimated cost one operation may have.")
    max_batch: int = Field(10, description="Most operations in one batched HTTP request.")
    resolver_timeout: float = Field(30.0, description="Seconds a root field may run.")
    rate_limit_operations: int = Field(600, description="Operations per principal per minute (0: no limit).")
    rate_limit_cost: int = Field(1_000_000, description="Estimated cost per principal per minute (0: no limit).")
    persisted_queries: bool = Field(True, description="Accept automatic persisted queries (sha256 hash -> document).")
    persisted_queries_file: Path | None = Field(None, description="JSON {sha256: document} of registered operations.")
    persisted_queries_only: bool = Field(False, description="Allow-list mode: only registered operations run.")
    # Semantic search (README "Semantic search"): a Qdrant index kept in step with the graph.
    search: bool = Field(True, description="Keep a semantic-search index and serve `search`/`similar`.")
    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL; unset: Qdrant Edge under data_dir/index.")
    qdrant_api_key: str | None = None
    index_optimize_interval: float = Field(
        30.0, gt=0, description="Seconds between checks whether the embedded index needs optimising (in a child process).")
    index_process: bool = Field(
        True, description="Serve the embedded index from a child process: its queries hold their process's GIL "
        "(HYBRID at c=16 1.19x the req/s, c=1 p50 +1.9 ms on a quiet 2-core machine, "
        "bench/results/search-edgeproc-2026-12-02.md).")
    qdrant_collection: str = Field("contextql", description="Collection name (history goes to <name>_history).")
    embedder: Literal["fastembed", "openai"] = Field("fastembed", description="fastembed (ONNX) or an OpenAI-compatible HTTP endpoint.")
    embedding_model: str | None = Field(None, description="fastembed model name or folder (unset: bundled all-MiniLM-L6-v2 int8), or the endpoint's model.")
    embedding_url: str | None = Field(None, description="Base URL of an OpenAI-compatible /v1/embeddings endpoint.")
    embedding_api_key: str | None = None
    embedding_threads: int | None = Field(
        None, ge=1, description="ONNX Runtime threads of the fastembed model (unset: ONNX Runtime's default, one per core).")
    redis_url: str | None = Field(None, description="redis://host:6379/0: share change events between API instances.")
    redis_channel: str = Field("contextql:events", description="Redis pub/sub channel of change events.")
    subscription_buffer: int = Field(1000, description="Events buffered per subscriber before it is told some were dropped.")

    @model_validator(mode="before")
    @classmethod
    def _neo4j_uri_implies_neo4j(cls, values: dict) -> dict:
        if isinstance(values, dict):
            keys = {k.lower() for k in values}
            if values.get("neo4j_uri") and "graph" not in keys:
                values["graph"] = "neo4j"
        return values

    @model_validator(mode="after")
    def _cors_is_coherent(self) -> Settings:
        origins = self.cors_origin_list
        if "*" in origins and len(origins) > 1:
            raise ValueError("CONTEXTQL_CORS_ORIGINS: `*` allows every origin and cannot be listed with others")
        if "*" in origins and self.cors_allow_credentials:
            raise ValueError(
                "CONTEXTQL_CORS_ORIGINS=* cannot be combined with CONTEXTQL_CORS_ALLOW_CREDENTIALS=true: "
                "browsers refuse credentialed responses to any origin; list the allowed origins instead"
            )
        for origin in origins:
            # A browser's Origin is exactly scheme://host[:port]; anything else would silently never match.
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"CONTEXTQL_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com or "
                    "http://localhost:3000 (scheme, host and port only: no path or trailing slash)"
                )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def limits(self) -> Limits:
        return Limits(page_size_default=self.page_size_default, page_size_max=self.page_size_max, max_bulk=self.max_bulk,
                      api_key_overlap_seconds=self.auth_api_key_overlap, max_json_depth=self.max_json_depth,
                      schema_ref_bases=tuple(self.schema_ref_bases))
