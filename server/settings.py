"""Configuration from the environment (`CONTEXTQL_*`) or a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from resolvers.limits import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTEXTQL_", env_file=".env", extra="ignore")

    graph: Literal["ladybug", "neo4j"] = Field("ladybug", description="Graph store: embedded LadybugDB or Neo4j.")
    data_dir: Path = Field(Path(".contextql"), description="Folder for the embedded graph (and later the local index).")
    neo4j_uri: str | None = Field(None, description="bolt:// (single server) or neo4j:// (cluster routing); implies graph=neo4j.")
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str = "neo4j"
    neo4j_timeout: float = Field(10.0, description="Transaction timeout in seconds.")
    host: str = "127.0.0.1"
    port: int = 8000
    workspace: str = Field("default", description="Workspace of the anonymous local principal.")
    graphiql: bool = Field(True, description="Serve GraphiQL to browsers at /graphql.")
    max_body_bytes: int = Field(2 * 1024 * 1024, description="Largest accepted request body.")
    page_size_default: int = 20
    page_size_max: int = 100
    max_bulk: int = Field(1000, description="Most contexts one createContexts call may create.")
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    log_level: str = "info"
    # Semantic search (README "Semantic search"): a Qdrant index kept in step with the graph.
    search: bool = Field(True, description="Keep a semantic-search index and serve `search`/`similar`.")
    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL; unset: local mode under data_dir/qdrant.")
    qdrant_api_key: str | None = None
    qdrant_collection: str = Field("contextql", description="Collection name (history goes to <name>_history).")
    embedder: Literal["fastembed", "openai"] = Field("fastembed", description="fastembed (ONNX) or an OpenAI-compatible HTTP endpoint.")
    embedding_model: str | None = Field(None, description="fastembed model name or folder (unset: bundled all-MiniLM-L6-v2 int8), or the endpoint's model.")
    embedding_url: str | None = Field(None, description="Base URL of an OpenAI-compatible /v1/embeddings endpoint.")
    embedding_api_key: str | None = None
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

    def limits(self) -> Limits:
        return Limits(page_size_default=self.page_size_default, page_size_max=self.page_size_max, max_bulk=self.max_bulk)
