"""Persisted operations: automatic persisted queries (the Apollo APQ protocol) and an allow-list mode.

APQ: a client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without `query`;
an unknown hash answers PERSISTED_QUERY_NOT_FOUND, and the client resends with the document,
which is then remembered (bounded, in process). Allow-list mode: only the operations of the
registered file run, whether sent by hash or in full.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graphql import GraphQLError


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_registered(path: Path | None) -> dict[str, str]:
    """A JSON file: either {sha256: document} or a list of documents (hashed here)."""
    if path is None:
        return {}
    data = json.loads(Path(path).read_text())
    documents = data.values() if isinstance(data, dict) else data
    return {sha256(doc): doc for doc in documents}


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedQueries:
    def __init__(self, *, automatic: bool, registered: Mapping[str, str], only: bool, cache_size: int = 10_000) -> None:
        self.automatic, self.registered, self.only = automatic, dict(registered), only
        self.cache: OrderedDict[str, str] = OrderedDict()
        self.cache_size = cache_size

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | GraphQLError | None:
        """The document to run, or the error to answer with (None: no query at all, Strawberry says so)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if self.only and query is not None and sha256(query) not in self.registered:
                return _error("Only registered operations may run on this server; send a registered hash.",
                              "PERSISTED_QUERY_NOT_ALLOWED")
            return query
        if not isinstance(persisted, Mapping) or persisted.get("version") != 1 or not isinstance(persisted.get("sha256Hash"), str):
            return _error("`extensions.persistedQuery` must be {version: 1, sha256Hash: \"<hex>\"}.", "BAD_USER_INPUT")
        digest = persisted["sha256Hash"].lower()
        if query is None:
            found = self.registered.get(digest) or (self.cache.get(digest) if self.automatic and not self.only else None)
            if found is None:
                if not (self.automatic or self.only):
                    return _error("Persisted queries are not enabled on this server: send the query.",
                                  "PERSISTED_QUERY_NOT_SUPPORTED")
                return _error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
            if digest in self.cache:
                self.cache.move_to_end(digest)
            return found
        if sha256(query) != digest:
            return _error("provided sha does not match query", "BAD_USER_INPUT")
        if self.only:
            if digest not in self.registered:
                return _error("Only registered operations may run on this server.", "PERSISTED_QUERY_NOT_ALLOWED")
            return query
        if self.automatic:
            self.cache[digest] = query
            self.cache.move_to_end(digest)
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return query
