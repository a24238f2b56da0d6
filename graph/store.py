"""The graph-store contract: every operation the domain layer needs, in domain terms.

Each backend (one folder per engine) implements `GraphStore` and is held to the
same contract tests. Rules that are not storage — path syntax, inheritance,
validation, what a new version contains — live above this line and are written
once. Every write method is one atomic transaction: on error nothing is kept.

Conventions shared by all backends:
- Paged reads take a keyset `Page` (`graph.records.Page`): at most `limit` rows strictly
  after the position `page.after` in the read's order, never an offset. The keys of each
  read are named in `graph.keyset`; a position of the wrong shape is `BadUserInputError`.
- Every read and write is scoped to one workspace; no method returns another
  workspace's data.
- Context ids are UUIDs unique across all workspaces (Relay global ids); paths
  are unique per workspace. Lookups by id still only see the given workspace.
- Timestamps are integer microseconds since the epoch.
- `queries` counts statements sent to the engine (round trips), for tests and
  benchmarks; a retried transaction counts again.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Sequence
from typing import TypeVar

from . import access_rules, tree
from . import restore as restoring
from .access import ApiKeyRecord, AuditRecord
from .filters import Filter, Order
from .knowledge.contract import KnowledgeGraphContract
from .outbox import IndexTask
from .records import ContextRecord, ContextTypeRecord, Page, TreePlan, TreeRead, VersionRecord
from .errors import NotFoundError
from .knowledge import rules
from .knowledge.records import (
    Derivation, ExecutionRecord, NodeRef, RelationshipRecord, ToolRecord, ToolVersionRecord,
)
from .writes import WriteEffects, WriteTx, Work

T = TypeVar("T")


class GraphStore(KnowledgeGraphContract, abc.ABC):
    backend: str = "abstract"
    # True when one process at a time opens the store (the embedded engine): then at start-up
    # nobody else can hold a claim on an outbox task, and those of a dead process are released.
    single_process: bool = False

    def __init__(self) -> None:
        self.queries = 0

    # -- lifecycle and schema ------------------------------------------------

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (or open files). Idempotent."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and files. Idempotent."""

    async def ping(self) -> None:
        """Raise unless the engine answers a trivial read (readiness)."""
        await self.applied_migrations()

    @abc.abstractmethod
    async def applied_migrations(self) -> list[str]:
        """Ids of migrations already applied, in the order they were applied."""

    @abc.abstractmethod
    async def apply_migration(self, migration_id: str, statements: Sequence[str]) -> None:
        """Run schema statements and record `migration_id` as applied.

        Raises `ConflictError` if it was applied already. May not be atomic (Neo4j runs
        schema statements in their own transactions), so statements must be idempotent.
        """

    # -- contexts: reads ----------------------------------------------------

    @abc.abstractmethod
    async def get_by_ids(self, workspace: str, ids: Sequence[str]) -> dict[str, ContextRecord]:
        """Contexts by id; ids that do not exist (in this workspace) are absent from the result."""

    @abc.abstractmethod
    async def get_by_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, ContextRecord]:
        """Contexts by normalised path; missing paths are absent from the result."""

    async def read_tree(self, workspace: str, paths: Sequence[str], plan: TreePlan) -> TreeRead:
        """Contexts by path and, following `plan`, their children pages and counts, level by level.

        A backend may honour `plan.fields` and return `PartialContextRecord`s (this default does not).

        This default makes one call per level and kind; a backend that can, answers in ONE
        statement (a nested query is then one round trip, as a GraphQL operation should be).
        """
        read = TreeRead(contexts=await self.get_by_paths(workspace, paths))
        parents = [record.id for record in read.contexts.values()]
        level: TreePlan | None = plan
        while level is not None and parents:
            if level.count:
                read.counts.update(await self.count_children(workspace, parents))
            if level.page is None:
                break
            pages = await self.list_children(workspace, parents, level.page)
            read.children.update(pages)
            parents = level.parents_below(pages.values())
            level = level.below
        return read

    @abc.abstractmethod
    async def list_children(
        self, workspace: str, parent_ids: Sequence[str], page: Page
    ) -> dict[str, list[ContextRecord]]:
        """For each parent, one page of its direct children ordered by name (code points), then id
        (keys `graph.keyset.CHILDREN`; `page.after` is a (name, id) position, the same for every parent).

        Every requested parent id is a key of the result (possibly with an empty list).
        """

    @abc.abstractmethod
    async def count_children(self, workspace: str, parent_ids: Sequence[str]) -> dict[str, int]:
        """Number of direct children of each parent (0 for unknown ids)."""

    @abc.abstractmethod
    async def find_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page
    ) -> list[ContextRecord]:
        """A page of contexts matching `where`, sorted by `order` then by path (keys
        `graph.keyset.contexts(order)`; `page.after` holds one value per key)."""

    async def find_and_count_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page,
        fields: frozenset[str] | None = None,
    ) -> tuple[list[ContextRecord], int]:
        """`find_contexts` and `count_contexts` of the same filter (one statement where the backend can).

        `fields`: the record attributes the caller reads (None: all). A backend may then return
        `PartialContextRecord`s holding at least those, `ALWAYS_FETCHED` and the sort keys'
        attributes (this default returns complete records)."""
        return await self.find_contexts(workspace, where, order, page), await self.count_contexts(workspace, where)

    @abc.abstractmethod
    async def count_contexts(self, workspace: str, where: Filter | None) -> int:
        """How many contexts match `where`."""

    # -- writes ----------------------------------------------------------------
    # Every write is one transaction: `write(work)` runs the rules of `graph/tree.py` over the
    # narrow statements of `graph/writes.WriteTx`. The methods below are those rules applied.

    @abc.abstractmethod
    async def write(self, work: Work[T]) -> T:
        """Run `work` in one write transaction: commit what it did, or nothing if it raised.

        May run `work` again after a transient failure (deadlock, leader change).
        """

    async def write_revision(self, work: Work[T]) -> T:
        """`write` for a work that revises contexts it reads with `lock=True` (`tree.revise`).

        A backend may run it optimistically first (Neo4j: without a transaction, the write
        guarded by what was read, graph/neo4j/optimistic.py); the outcome is `write`'s.
        """
        return await self.write(work)

    async def create_contexts(
        self, contexts: Sequence[ContextRecord], versions: Sequence[VersionRecord], effects: WriteEffects | None = None
    ) -> list[ContextRecord]:
        """Insert new contexts (parents first, each under whatever context is at its parent path
        now) with their first versions; returns them as written. `ConflictError` (details:
        `paths`, and `ids` for taken ids) when a path or id is taken or repeated,
        `NotFoundError` when a parent path holds no context."""
        if not contexts and not versions:
            return []
        workspace = (contexts[0] if contexts else versions[0]).workspace
        return await self.write(lambda tx: tree.insert(tx, workspace, contexts, versions, (), effects))

    async def revise_context(
        self, workspace: str, context_id: str | None, change: tree.Revise, effects: WriteEffects | None = None,
        *, path: str | None = None,
    ) -> tuple[ContextRecord, VersionRecord | None]:
        """Apply `change` to the current state of the context `context_id` (or at `path`) under a
        lock (see `tree.revise`)."""
        return await self.write_revision(lambda tx: tree.revise(tx, workspace, context_id, change, effects, path=path))

    async def update_context(
        self, record: ContextRecord, expected_version: int, version: VersionRecord, effects: WriteEffects | None = None
    ) -> None:
        """Replace a context's state with `record` and append `version` if the stored version
        is `expected_version` (`ConflictError` otherwise, `NotFoundError` if it is gone)."""
        def change(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
            if head.version != expected_version:
                raise tree.stale(head, expected_version)
            return record.replace(path=head.path, parent_id=head.parent_id), version

        await self.revise_context(record.workspace, record.id, change, effects)

    async def move_context(
        self,
        workspace: str,
        context_id: str,
        expected_version: int | None,
        new_path: str,
        version: VersionRecord | tree.Relocate,
        effects: WriteEffects | None = None,
    ) -> tree.Moved:
        """Move a context and its subtree under `new_path` (its parent is the context at the parent
        path); the moved context takes `version`, or what `version(head)` builds. Checked in
        this order: context missing, new parent missing (`NotFoundError`); stale version, new
        path inside the moved subtree, new path taken (`ConflictError`)."""
        change: tree.Relocate
        if isinstance(version, VersionRecord):
            fixed = version

            def relocate(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
                return head.replace(path=new_path, version=fixed.number, updated_at=fixed.created_at,
                                    updated_by=fixed.author), fixed

            change = relocate
        else:
            change = version
        return await self.write(
            lambda tx: tree.move(tx, workspace, context_id, new_path, expected_version, change, effects)
        )

    async def delete_context(
        self, workspace: str, context_id: str, recursive: bool, effects: WriteEffects | None = None
    ) -> tuple[ContextRecord, int]:
        """Delete a context (with `recursive`, its subtree) with all versions; returns its last
        state and how many contexts went. `ConflictError` when it has children and not
        `recursive`, `NotFoundError` if it is gone."""
        return await self.write(lambda tx: tree.delete(tx, workspace, context_id, recursive, effects))

    def frozen(self) -> contextlib.AbstractAsyncContextManager[bool]:
        """While the body runs, hold back every write if this process can (a `single_process` store):
        True when the body's reads then see one instant's state, False when writes go on."""
        return contextlib.nullcontext(False)

    # -- versions -------------------------------------------------------------

    @abc.abstractmethod
    async def list_versions(self, workspace: str, context_id: str, page: Page) -> list[VersionRecord]:
        """One page of a context's versions, newest first (keys `graph.keyset.VERSIONS`: the number)."""

    @abc.abstractmethod
    async def count_versions(self, workspace: str, context_id: str) -> int:
        """Number of versions of a context."""

    @abc.abstractmethod
    async def get_version(self, workspace: str, context_id: str, number: int) -> VersionRecord | None:
        """One version by number."""

    @abc.abstractmethod
    async def get_version_at(self, workspace: str, context_id: str, at: int) -> VersionRecord | None:
        """The version with the greatest `created_at` <= `at` (ties: highest number), if any."""

    @abc.abstractmethod
    async def versions_of(self, workspace: str, context_ids: Sequence[str]) -> dict[str, list[VersionRecord]]:
        """All versions of each context, oldest first; every requested id is a key (maybe with [])."""

    # -- context types --------------------------------------------------------

    @abc.abstractmethod
    async def get_context_type(self, workspace: str, name: str) -> ContextTypeRecord | None:
        ...

    @abc.abstractmethod
    async def list_context_types(self, workspace: str) -> list[ContextTypeRecord]:
        """All context types of a workspace, ordered by name."""

    async def put_context_type(
        self, record: ContextTypeRecord, expected_version: int | None, effects: WriteEffects | None = None
    ) -> None:
        """Create (`expected_version` None: must not exist, else `ConflictError`) or replace
        (compare-and-set: `ConflictError` when stale, `NotFoundError` when it does not exist)."""
        await self.write(lambda tx: tree.put_type(tx, record, expected_version, effects))

    # -- knowledge graph: writes (rules in graph/knowledge/rules.py) -----------

    async def add_tool_version(
        self, tool: ToolRecord, version: ToolVersionRecord, effects: WriteEffects | None = None
    ) -> ToolRecord:
        """Publish a new version; creates the tool (from `tool`) on its first version.

        `ConflictError` (details: `name`, `version`) when that version exists. The tool's `latest`
        becomes the version with the greatest `sort_key`; `updated_at` becomes
        `version.created_at`. Returns the tool as stored afterwards.
        """
        return await self.write(lambda tx: rules.add_tool_version(tx, tool, version, effects))

    async def update_tool(
        self, workspace: str, name: str, *, at: int, retired: bool | None = None,
        permissions: dict[str, list[str]] | None = None, effects: WriteEffects | None = None,
    ) -> ToolRecord:
        """Set what is given (None keeps it); `NotFoundError` (details: `name`) for an unknown tool."""
        return await self.write(lambda tx: rules.update_tool(tx, workspace, name, at, retired, permissions, effects))

    async def set_tool_deprecated(
        self, workspace: str, name: str, version: str, deprecated: bool, effects: WriteEffects | None = None
    ) -> ToolVersionRecord:
        """Flag (or unflag) one version as deprecated; `NotFoundError` (details: `name`, and
        `version` when only the version is missing) if it does not exist."""
        return await self.write(lambda tx: rules.set_tool_deprecated(tx, workspace, name, version, deprecated, effects))

    async def create_execution(self, record: ExecutionRecord, effects: WriteEffects | None = None) -> None:
        """Record a run (normally `running`); `ConflictError` (details: `ids`) if the id exists."""
        await self.write(lambda tx: rules.create_execution(tx, record, effects))

    async def finish_execution(self, record: ExecutionRecord, effects: WriteEffects | None = None) -> None:
        """Store the outcome (status, output, error, finish time, duration, output context);
        `NotFoundError` (details: `ids`) if the execution does not exist."""
        await self.write(lambda tx: rules.finish_execution(tx, record, effects))

    async def relate(
        self, record: RelationshipRecord, effects: WriteEffects | None = None
    ) -> tuple[RelationshipRecord, bool]:
        """Add an edge unless (source, target, type) exists; returns the stored edge and
        whether it was created. `NotFoundError` (details: `ref`) when the source context, a
        target context or a target tool does not exist; a target agent is created on use."""
        return await self.write(lambda tx: rules.relate(tx, record, effects))

    async def unrelate(
        self, workspace: str, source: NodeRef, target: NodeRef, type: str, effects: WriteEffects | None = None
    ) -> int:
        """Remove the edge; returns how many were removed (0 or 1)."""
        return await self.write(lambda tx: rules.unrelate(tx, workspace, source, target, type, effects))

    # -- bulk -----------------------------------------------------------------

    async def record_derivation(self, derivation: Derivation) -> None:
        """Lineage of one version, in its own transaction (a context write records its lineage itself)."""
        async def work(tx: WriteTx) -> None:
            if derivation.execution_id is not None and not await tx.execution_exists(
                derivation.workspace, derivation.execution_id
            ):
                raise NotFoundError(f"Execution {derivation.execution_id} does not exist.", ids=[derivation.execution_id])
            await tx.record_derivation(derivation)

        await self.write(work)

    async def import_records(
        self,
        workspace: str,
        contexts: Sequence[ContextRecord],
        versions: Sequence[VersionRecord],
        types: Sequence[ContextTypeRecord],
        *,
        skip_present: bool = False,
    ) -> int:
        """Insert exported records verbatim (ids, versions and timestamps kept), atomically;
        returns how many contexts were inserted.

        Contexts come parents first; a parent may already exist in the store (with the id the
        record names). Every record's workspace must equal `workspace` (`ValueError`). Raises
        `ConflictError` if any id, path or type name is taken, `NotFoundError` if a parent is
        missing. With `skip_present`, records already stored (same id, same path) are skipped,
        so an interrupted import can simply be run again.
        """
        if not (contexts or versions or types):
            return 0
        written = await self.write(
            lambda tx: tree.insert(tx, workspace, contexts, versions, types, adopt=False, skip_present=skip_present)
        )
        return len(written)

    async def restore(self, batch: restoring.Batch, *, skip_present: bool = False) -> restoring.Restored:
        """Write one batch of a backup verbatim, atomically (rules in `graph/restore.py`): ids,
        versions and timestamps kept. `ConflictError` when an id is taken (with `skip_present`,
        records of the workspace already stored are skipped and counted instead)."""
        return await self.write(lambda tx: restoring.restore(tx, batch, skip_present=skip_present))

    async def delete_workspace(self, workspace: str, effects: WriteEffects | None = None) -> dict[str, int]:
        """Remove every record of a workspace (contexts with their versions, types, tools,
        executions, relationships, lineage, API keys, audit entries) in one transaction; its
        contexts leave the search index through the outbox. Returns how many of each kind went."""
        return await self.write(lambda tx: tree.purge_workspace(tx, workspace, effects))

    async def delete_context_type(
        self, workspace: str, name: str, force: bool = False, effects: WriteEffects | None = None
    ) -> int:
        """Delete a context type; `ConflictError` while contexts are of that kind unless `force`
        (returns how many are), `NotFoundError` if there is no such type."""
        return await self.write(lambda tx: tree.delete_type(tx, workspace, name, force, effects))

    # -- access control: API keys and audit log (graph/access.py) ------------
    # API keys are looked up by id before any workspace is known (authentication), so
    # `get_api_key` is the one read not scoped to a workspace; it returns hashes, never secrets.

    async def create_api_key(self, record: ApiKeyRecord, effects: WriteEffects | None = None) -> None:
        """Store a new key; `ConflictError` (details: `id`) if its id is taken."""
        await self.write(lambda tx: access_rules.create_api_key(tx, record, effects))

    @abc.abstractmethod
    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """A key by id, whatever its workspace or state (revoked and expired keys included)."""

    @abc.abstractmethod
    async def list_api_keys(self, workspace: str) -> list[ApiKeyRecord]:
        """Keys managed in `workspace` (revoked and expired included), oldest first (then id)."""

    async def revoke_api_key(
        self, workspace: str, key_id: str, at: int, effects: WriteEffects | None = None
    ) -> ApiKeyRecord:
        """Mark a key revoked at `at` (a revoked key keeps its first `revoked_at`); returns it.

        `NotFoundError` (details: `id`) if no key `key_id` is managed in `workspace`.
        """
        return await self.write(lambda tx: access_rules.revoke_api_key(tx, workspace, key_id, at, effects))

    async def rotate_api_key(
        self, workspace: str, key_id: str, old_expires_at: int, new: ApiKeyRecord, effects: WriteEffects | None = None
    ) -> ApiKeyRecord:
        """Atomically store `new` and let the old key expire at `old_expires_at` (or earlier, if it
        already expired sooner), recording `replaced_by`; returns the old key as updated.

        `NotFoundError` (details: `id`) unless `key_id` is managed in `workspace` and active at
        `new.created_at`; `ConflictError` (details: `id`) if `new.id` is taken.
        """
        return await self.write(
            lambda tx: access_rules.rotate_api_key(tx, workspace, key_id, old_expires_at, new, effects)
        )

    @abc.abstractmethod
    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        """Append audit entries (ids unique; `ConflictError` otherwise)."""

    @abc.abstractmethod
    async def list_audit(
        self, workspace: str, page: Page, principal: str | None = None, outcome: str | None = None
    ) -> list[AuditRecord]:
        """A page of a workspace's audit entries, newest first (`at` descending, then id descending;
        keys `graph.keyset.AUDIT`), only those of `principal` / with `outcome` when given."""

    @abc.abstractmethod
    async def count_audit(self, workspace: str, principal: str | None = None, outcome: str | None = None) -> int:
        """How many entries `list_audit` pages through with the same filters."""

    # -- search-index outbox (graph/outbox.py) --------------------------------
    # Every write above also records an IndexTask per affected context in its own
    # transaction; these operations serve the index worker.

    @abc.abstractmethod
    async def claim_index_tasks(
        self, now: int, lease_us: int, limit: int, workspace: str | None = None
    ) -> list[IndexTask]:
        """Up to `limit` due tasks (`not_before <= now`, unclaimed or lease expired), oldest
        first, leased until `now + lease_us`; only `workspace`'s when given."""

    @abc.abstractmethod
    async def complete_index_tasks(self, tasks: Sequence[IndexTask]) -> int:
        """Remove the tasks whose token is unchanged since the claim; returns how many went."""

    @abc.abstractmethod
    async def retry_index_task(self, task: IndexTask, not_before: int, error: str) -> None:
        """Release a failed task until `not_before`, counting the attempt (no-op if re-enqueued)."""

    async def release_index_claims(self) -> int:
        """Make every claimed outbox task due again; returns how many. Only for a `single_process`
        store at start-up (elsewhere a claim may belong to a live process, and expires instead)."""
        return 0

    @abc.abstractmethod
    async def count_index_tasks(self, workspace: str | None = None) -> int:
        """Pending tasks (claimed or not), of one workspace or of all."""

    @abc.abstractmethod
    async def index_outbox_summary(self) -> tuple[int, int | None]:
        """(pending tasks of every workspace, `enqueued_at` of the oldest or None): one read, for metrics."""
