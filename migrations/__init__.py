"""Versioned graph-schema migrations, one folder per backend.

Files are named `NNNN_description.cypher`; statements are separated by lines
ending in `;`. Applied ids are recorded in the store, so running again is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from contextql.graph.errors import ConflictError
from contextql.graph.store import GraphStore


@dataclass(frozen=True)
class Migration:
    id: str
    statements: list[str]


def available(backend: str) -> list[Migration]:
    """The migrations shipped for `backend`, in order."""
    folder = resources.files(__package__) / backend
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            found.append(Migration(entry.name.removesuffix(".cypher"), split_statements(entry.read_text())))
    return found


def split_statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


async def migrate(store: GraphStore) -> list[str]:
    """Apply the pending migrations of the store's backend; returns the ids applied now."""
    done = set(await store.applied_migrations())
    applied = []
    for migration in available(store.backend):
        if migration.id not in done:
            try:
                await store.apply_migration(migration.id, migration.statements)
            except ConflictError:
                # Another instance starting at the same time recorded it first; the
                # statements are idempotent, so its work and ours agree.
                continue
            applied.append(migration.id)
    return applied
