"""`GraphStore` on LadybugDB, the embedded (in-process) graph engine.

Storage layout (DDL in migrations/ladybug/0001_initial.cypher)
- `Context` node table, primary key `id`; the filterable properties are stored
  under the names of `graph.filters.FILTER_FIELDS` (incl. derived `name`, `depth`),
  `data` as a JSON STRING (the JSON extension is not available offline), `tags` as
  STRING[].
- `ContextPath(key)` node table with key `workspace + "\\x00" + path`: the primary
  key is the engine's only index and only uniqueness constraint, so this table
  gives O(1) lookups by path and makes a path unique per workspace.
- `CHILD_OF(FROM Context TO Context)`: the tree; children are found through the
  adjacency list of the parent (no scan), subtrees by a variable-length pattern.
  `parent_id` is also kept as a property (filters and records use it).
- `UNDER(FROM Context TO Context)`: each context to every one of its ancestors, the
  closure of CHILD_OF written with it (migrations/ladybug/0009_under.cypher), so a
  path-prefix read reaches a subtree in one hop from its root (`subtree.py`).
- `Version` node table, primary key `context_id:number`, reached from its context
  through `HAS_VERSION`, so history reads never scan all versions.
- `ContextType` node table, primary key `workspace + "\\x00" + name`.
- `Migration` node table (created on first use by `apply_migration`).

Every write method is one transaction on the writer connection (see `engine.py`).
Conflicts and missing references are found by reads inside that transaction; the
primary keys are the backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from .. import keyset
from ..cypher_filters import TRUE, CypherFilterCompiler, limit_clause, order_clause, page_limit, seek_clause
from ..errors import ConflictError, ContextQLError, StoreUnavailableError
from ..filters import Filter, Order
from ..records import ContextRecord, ContextTypeRecord, Page, TreePlan, TreeRead, VersionRecord
from ..store import GraphStore
from ..access import ApiKeyRecord, AuditRecord
from . import access
from ..outbox import IndexTask
from . import outbox
from .engine import DEFAULT_CHECKPOINT_WAL_BYTES, DEFAULT_INLINE_READ_MS, AsyncTx, Engine, Reader, Rows, Tx
from .subtree import SubtreePolicy, SubtreeSizes, implied_by_walk, subtree_root
from .knowledge import LadybugKnowledge
from ..codec import context_record_of, fetched, with_order_keys
from ..head_cache import HeadCache
from .rows import C_COLS, CONTEXT_FIELDS, SEP, T_COLS, V_COLS, _context, _key, _now_us, _type, _unique, _version
from .group_commit import RevisionGroups, RunAlone
from .writes import LadybugWriteTx, StaleHead
from ..writes import Work

T = TypeVar("T")

# The buffer pool caches database pages and holds changes until the next checkpoint. A
# floor big enough for large transactions (a 2,000-context batch), plus room for the
# whole database file, so reads never evict what they need next; never sized from RAM.
MIN_BUFFER_POOL_MB = 512


def default_buffer_pool_mb(path: str) -> int:
    """`MIN_BUFFER_POOL_MB` + the database's size on disk (file and WAL), in MB."""
    on_disk = 0
    for suffix in ("", ".wal"):
        with contextlib.suppress(OSError):  # not created yet
            on_disk += os.path.getsize(path + suffix)
    return MIN_BUFFER_POOL_MB + (on_disk >> 20)


_AT_PATHS = (
    "UNWIND $keys AS k MATCH (p:ContextPath {{key: k}}) MATCH (c:Context {{id: p.context_id}}) "
    "WHERE c.workspace = $ws RETURN {cols}"
)
Q_AT_PATHS = _AT_PATHS.format(cols=C_COLS)
# One page of children per parent and (`n`) how many children it has, in one statement: per
# parent, sort the "name NUL id" strings of the children past the seek position (NUL sorts
# first, so this is the order by name, then id), keep the first `limit`, then read those
# children by primary key. A parent whose page is empty has no row.
_LEVEL_TAIL = (
    "WITH {carry}count(c) AS n, list_slice(list_sort(collect({picked})), 1, $limit) AS picked "
    "UNWIND picked AS item WITH {carry}n, split_part(item, $sep, 2) AS child "
    "MATCH (c:Context {{id: child}}) RETURN {parent}, n, {cols}"
)
# One parent is matched by a parameter, and its children by a plain MATCH from it: the UNWIND
# of a single-element list costs twice as much (1.3 against 2.4 ms, measured), an OPTIONAL
# MATCH 0.07 ms more (0.26 against 0.19 for a page of 10; the planner joins the optional part).
_ONE_PARENT = (
    "MATCH (p:Context {{id: $pid}})<-[:CHILD_OF]-(c:Context) WHERE p.workspace = $ws "
    + _LEVEL_TAIL.replace("{carry}", "").replace("{parent}", "$pid")
)
# Several parents: the UNWIND needs the OPTIONAL MATCH (a plain one is planned as a join
# against a scan: 18-29 ms).
_PARENTS = (
    "UNWIND $pids AS pid MATCH (p:Context {{id: pid}}) WHERE p.workspace = $ws "
    "OPTIONAL MATCH (p)<-[:CHILD_OF]-(c:Context) "
    + _LEVEL_TAIL.replace("{carry}", "pid, ").replace("{parent}", "pid")
)
# Several parents that are all children of `$gid` (the level above had one parent): a plain
# two-step MATCH from `$gid`, cheaper than `_PARENTS` (0.47 against 0.72 ms for 10 parents of
# ~9 children, measured) while `$gid` has few children besides them (`SIBLINGS_SPREAD`). Only
# within one snapshot read (`Engine.read_with(snapshot=True)`): a parent moved from `$gid` since it
# was read would have no children here.
_SIBLINGS = (
    "MATCH (g:Context {{id: $gid}})<-[:CHILD_OF]-(p:Context)<-[:CHILD_OF]-(c:Context) "
    "WHERE g.workspace = $ws AND p.id IN $pids "
    "WITH p.id AS pid, count(c) AS n, list_slice(list_sort(collect({picked})), 1, $limit) AS picked "
    "UNWIND picked AS item WITH pid, n, split_part(item, $sep, 2) AS child "
    "MATCH (c:Context {{id: child}}) RETURN pid, n, {cols}"
)
# `_SIBLINGS` walks every child of `$gid`: used while it has at most this many children per parent asked for.
SIBLINGS_SPREAD = 4
Q_COUNT_CHILDREN = (
    "UNWIND $pids AS pid MATCH (p:Context {id: pid}) WHERE p.workspace = $ws "
    "OPTIONAL MATCH (p)<-[:CHILD_OF]-(c:Context) RETURN pid, count(c)"
)


def _columns(fields: frozenset[str] | None) -> tuple[tuple[str, ...], str]:
    """The context columns a read returns: all, or the projection `fields` (as `codec.fetched` gives).
    Leaving out `content` and `data` made a 10-parent level 0.6-1.2 ms cheaper in the engine
    (of ~3 ms), besides the decoding saved."""
    names = CONTEXT_FIELDS if fields is None else tuple(sorted(fields))
    return names, C_COLS if fields is None else ", ".join(f"c.{name}" for name in names)


def _records(rows: Sequence[Sequence[Any]], names: tuple[str, ...], fields: frozenset[str] | None
             ) -> list[ContextRecord]:
    if fields is None:
        return [_context(row) for row in rows]
    return [context_record_of(dict(zip(names, row)), fields) for row in rows]


def _children_level(
    run: Reader, workspace: str, parent_ids: list[str], page: Page, count: bool,
    fields: frozenset[str] | None = None,
) -> tuple[dict[str, list[ContextRecord]], dict[str, int]]:
    """Each parent's page of children (every parent a key) and, with `count`, how many it has;
    `fields`: the attributes to fetch (`codec.fetched`), None for complete records."""
    pages, seen = _level(run, workspace, parent_ids, page, fields, None)
    return pages, _children_level_counts(run, workspace, parent_ids, page, seen) if count else {}


def _children_level_counts(run: Reader, workspace: str, parent_ids: list[str], page: Page, seen: dict[str, int]
                           ) -> dict[str, int]:
    """How many children each parent has, from `seen` (the parents with a nonempty page)."""
    if page_limit(page) == 0:
        return _count_children(run, workspace, parent_ids)
    counts = dict(seen)
    missing = [pid for pid in parent_ids if pid not in counts]
    if missing and page.after is not None:  # children, if any, all before the position
        counts.update(_count_children(run, workspace, missing))
    else:
        counts.update(dict.fromkeys(missing, 0))
    return counts


def _level(
    run: Reader, workspace: str, parent_ids: list[str], page: Page, fields: frozenset[str] | None,
    under: tuple[str, int] | None,
) -> tuple[dict[str, list[ContextRecord]], dict[str, int]]:
    """Each parent's page of children, and how many children each parent with a nonempty page has.
    `under`: the one parent of all of `parent_ids` and how many children it has, when the caller
    reads in one snapshot (`Engine.read_with(snapshot=True)`)."""
    pages: dict[str, list[ContextRecord]] = {pid: [] for pid in parent_ids}
    counts: dict[str, int] = {}
    limit = page_limit(page)
    if limit == 0:
        return pages, counts
    seek, after = seek_clause("c", keyset.CHILDREN, page)
    picked = "c.name + $sep + c.id" if seek == TRUE else f"CASE WHEN {seek} THEN c.name + $sep + c.id END"
    params = {**after, "ws": workspace, "sep": SEP, "limit": limit}
    names, cols = _columns(fields)
    if len(parent_ids) == 1:
        rows = run(_ONE_PARENT.format(picked=picked, cols=cols), {**params, "pid": parent_ids[0]})
    elif under is not None and under[1] <= SIBLINGS_SPREAD * len(parent_ids):
        rows = run(_SIBLINGS.format(picked=picked, cols=cols), {**params, "pids": parent_ids, "gid": under[0]})
    else:
        rows = run(_PARENTS.format(picked=picked, cols=cols), {**params, "pids": parent_ids})
    for row, record in zip(rows, _records([row[2:] for row in rows], names, fields)):
        pages[row[0]].append(record)
        counts[row[0]] = int(row[1])
    for children in pages.values():
        children.sort(key=lambda rec: (rec.name, rec.id))
    return pages, counts


def _count_children(run: Reader, workspace: str, parent_ids: list[str]) -> dict[str, int]:
    result = dict.fromkeys(parent_ids, 0)
    result.update({pid: int(n) for pid, n in run(Q_COUNT_CHILDREN, {"pids": parent_ids, "ws": workspace})})
    return result


_BY_PATH = keyset.contexts(())
_RANK = (keyset.Key("rank", int),)  # rows ranked by the statement itself


def _find_statement(workspace: str, where: Filter | None, order: Sequence[Order], page: Page
                    ) -> tuple[str, dict[str, Any]]:
    """A page of `find_contexts`, each row its sort keys then `C_COLS` (see `_ranked`). The scan
    keeps only the ids and the sort keys; the page's columns are read by primary key (a scan
    returning every column reads them for every row: 23 ms instead of 9 for a filtered page of
    50,000 contexts, measured)."""
    clause, params = LadybugFilterCompiler("c").compile(where)
    keys = keyset.contexts(order)
    seek, after = seek_clause("c", keys, page)
    carried = ", ".join(f"c.{key.field} AS k{n}" for n, key in enumerate(keys))
    ordered = ", ".join(f"k{n}" + (" DESC" if key.descending else "") for n, key in enumerate(keys))
    query = (
        f"MATCH (c:Context) WHERE c.workspace = $ws AND {clause} AND {seek} "
        f"WITH c.id AS id, {carried} ORDER BY {ordered} {limit_clause(page)} "
        f"MATCH (c:Context {{id: id}}) RETURN {', '.join(f'k{n}' for n in range(len(keys)))}, {C_COLS}"
    )
    return query, {**params, **after, "ws": workspace}


def _ranked(rows: Rows, keys: keyset.Keyset, names: tuple[str, ...] = CONTEXT_FIELDS,
            fields: frozenset[str] | None = None) -> list[ContextRecord]:
    """Records of rows `[*sort keys, *columns]` in the keys' order: the MATCH by id after the
    ORDER BY does not keep it. Sort keys are never null; strings compare by code point in both.
    The columns are `C_COLS`, or those of `_columns(fields)` (`names`)."""
    for n in reversed(range(len(keys))):  # stable sorts, last key first
        rows.sort(key=lambda row: row[n], reverse=keys[n].descending)
    return _records([row[len(keys):] for row in rows], names, fields)


# The page tail of a by-path read: `n` matches, the page's ids in order (`i`), their columns.
_PAGE_TAIL = (
    "count(CASE WHEN {clause} THEN 1 END) AS n, "
    "list_slice(list_sort(collect(CASE WHEN {clause} THEN {picked} END)), 1, $limit) AS picked "
    "UNWIND range(1, size(picked)) AS i WITH {carry}n, i, split_part(picked[i], $sep, 2) AS id "
    "MATCH (c:Context {{id: id}}) RETURN {carry}n, i, {cols}"
)
_SCAN_PAGE = (
    "MATCH (c:Context) WHERE c.workspace = $ws AND {clause} "
    "WITH count(c) AS n, list_slice(list_sort(collect({picked})), 1, $limit) AS picked "
    "UNWIND range(1, size(picked)) AS i WITH n, i, split_part(picked[i], $sep, 2) AS id "
    "MATCH (c:Context {{id: id}}) RETURN n, i, {cols}"
)
# The descendants of `$root`, one hop along UNDER (each context's link to every ancestor; see
# `subtree.py`): `at` is the root's path when the statement ran, `visited` how many descendants
# there are. A plain MATCH from the root's primary key: an OPTIONAL one cost ~30% more (measured
# on the recursive walk this replaced). So a root without descendants gives no row, as does a
# root that is gone (`_ROOT_AT` tells).
_WALK = (
    "MATCH (a:Context {{id: $root}})<-[:UNDER]-(c:Context) "
    "WITH a.path AS at, count(c) AS visited, "
)
_ROOT_AT = "MATCH (a:Context {id: $root}) RETURN a.path"
_WALK_PAGE = _WALK + _PAGE_TAIL.replace("{carry}", "at, visited, ")
_WALK_COUNT = _WALK + "count(CASE WHEN {clause} THEN 1 END) AS n RETURN at, visited, n"
_ROOT_ID = "MATCH (p:ContextPath {key: $key}) RETURN p.context_id"
_TABLE_SIZE = "MATCH (c:Context) RETURN count(c)"


def _by_path_parts(workspace: str, where: Filter | None, page: Page) -> tuple[str, str, dict[str, Any]]:
    """The filter's clause, the expression `picked` ("path NUL id" past the seek position, else
    null) and the parameters of a by-path page (`_SCAN_PAGE`)."""
    clause, params = LadybugFilterCompiler("c").compile(where)
    picked, after = _picked(page)
    return clause, picked, {**params, **after, "ws": workspace, "sep": SEP, "limit": page_limit(page)}


def _picked(page: Page) -> tuple[str, dict[str, Any]]:
    """"path NUL id" of a row past the page's seek position, else null; the seek's parameters."""
    seek, after = seek_clause("c", _BY_PATH, page)
    return ("c.path + $sep + c.id" if seek == TRUE else f"CASE WHEN {seek} THEN c.path + $sep + c.id END"), after


def _walk_clause(where: Filter | None, root: str) -> tuple[str, dict[str, Any]]:
    """The condition a descendant of the context at `root` must meet to match `where`: the
    workspace and the path prefixes the walk implies are left out (`implied_by_walk`); every
    descendant is in the root's workspace, as a child is in its parent's."""
    return LadybugFilterCompiler("c").compile(implied_by_walk(where, root))


def _no_descendants(run: Reader, sizes: SubtreeSizes, root: str, root_id: str) -> None:
    """After a walk gave no row: the root has no descendants if it is still at `root`, else
    `_RootMoved`."""
    found = run(_ROOT_AT, {"root": root_id})
    if not found or found[0][0] != root:
        raise _RootMoved
    sizes.record(root_id, 0)


class _RootMoved(Exception):
    """The walk's root is not at the path any more (moved or deleted since its id was read)."""


def _walk_root(run: Reader, sizes: SubtreeSizes, workspace: str, root: str, fresh: bool
               ) -> tuple[str | None, bool]:
    """The id of the context at `root` if its subtree is to be walked; "" when there is no such
    context (so nothing lies below it); None to scan instead. With it, whether the id is the
    hint of an earlier read (`SubtreeSizes.root_id`; never when `fresh`): the walk checks it,
    and a hit saves the lookup statement (~0.16 ms, measured)."""
    found = None if fresh else sizes.root_id(workspace, root)
    hinted = found is not None
    if found is None:
        rows = run(_ROOT_ID, {"key": _key(workspace, root)})
        if not rows:
            # Every context's parent lies at its path minus the last segment, so no context lies
            # below a missing one; a path with an empty segment is left to the scan.
            return ("" if "" not in root[1:].split("/") else None), False
        found = str(rows[0][0])
        sizes.set_root_id(workspace, root, found)
    table = sizes.table()
    if table is None:
        table = int(run(_TABLE_SIZE, None)[0][0])
        sizes.set_table(table)
    return (found if sizes.walk(found, table) else None), hinted


def _from_root(run: Reader, sizes: SubtreeSizes, workspace: str, root: str,
               walk: Callable[[str], T | None], empty: T) -> T | None:
    """`walk(root id)` from the context at `root`; `empty` when there is none, None to scan. A
    walk from a hinted id whose context is not at `root` any more runs again from a fresh id."""
    for fresh in (False, True):
        root_id, hinted = _walk_root(run, sizes, workspace, root, fresh)
        if root_id is None:
            return None
        if root_id == "":
            return empty
        try:
            return walk(root_id)
        except _RootMoved:
            sizes.forget_root(workspace, root)
            if not hinted:
                return None  # moved between the lookup and the walk: the scan reads one snapshot
    return None


def _walked(sizes: SubtreeSizes, root: str, root_id: str, head: Sequence[Any]) -> None:
    """A walk's answer stands if its root was still at `root` when it ran (the root's id was
    read by an earlier statement or is a hint: a move in between would make it some other
    subtree), else `_RootMoved`."""
    at, visited = head
    if at != root:
        raise _RootMoved
    sizes.record(root_id, int(visited))


def _walk_page(
    run: Reader, sizes: SubtreeSizes, workspace: str, root: str, where: Filter | None, page: Page,
    fields: frozenset[str] | None = None,
) -> tuple[list[ContextRecord], int] | None:
    """The page and count of a by-path read from the subtree below `root`, or None: scan instead.
    `fields`: the attributes to fetch (`codec.fetched`), None for complete records."""
    clause, params = _walk_clause(where, root)
    picked, after = _picked(page)
    names, cols = _columns(fields)
    params = {**params, **after, "sep": SEP, "limit": page_limit(page)}
    query = _WALK_PAGE.format(clause=clause, picked=picked, cols=cols)

    def walk(root_id: str) -> tuple[list[ContextRecord], int] | None:
        rows = run(query, {**params, "root": root_id})
        if rows:
            head, n, records = rows[0][:2], rows[0][2], _ranked([row[3:] for row in rows], _RANK, names, fields)
        else:  # no page: count alone
            rows = run(_WALK_COUNT.format(clause=clause), {**params, "root": root_id})
            if not rows:
                _no_descendants(run, sizes, root, root_id)
                return [], 0
            if rows[0][2] and page.after is None:
                return None  # matches appeared between the two statements (no page from the start: no match)
            head, n, records = rows[0][:2], rows[0][2], []
        _walked(sizes, root, root_id, head)
        return records, int(n)

    empty: tuple[list[ContextRecord], int] = ([], 0)
    return _from_root(run, sizes, workspace, root, walk, empty)


def _walk_count(run: Reader, sizes: SubtreeSizes, workspace: str, root: str, where: Filter | None) -> int | None:
    clause, params = _walk_clause(where, root)
    query = _WALK_COUNT.format(clause=clause)

    def walk(root_id: str) -> int:
        rows = run(query, {**params, "root": root_id})
        if not rows:
            _no_descendants(run, sizes, root, root_id)
            return 0
        _walked(sizes, root, root_id, rows[0][:2])
        return int(rows[0][2])

    return _from_root(run, sizes, workspace, root, walk, 0)


def _count(run: Reader, workspace: str, where: Filter | None) -> int:
    clause, params = LadybugFilterCompiler("c").compile(where)
    rows = run(f"MATCH (c:Context) WHERE c.workspace = $ws AND {clause} RETURN count(c)", {**params, "ws": workspace})
    return int(rows[0][0]) if rows else 0


class LadybugFilterCompiler(CypherFilterCompiler):
    """LadybugDB speaks the generic Cypher of the base class for every operator.

    (Empty lists, which the engine cannot type, are folded away by the base class.)
    """


class LadybugStore(LadybugKnowledge, GraphStore):
    backend = "ladybug"
    single_process = True

    def __init__(
        self, path: str, *, readers: int = 4, batch_size: int = 5_000, buffer_pool_mb: int | None = None,
        checkpoint_wal_bytes: int = DEFAULT_CHECKPOINT_WAL_BYTES, subtree_policy: SubtreePolicy | None = None,
        inline_read_ms: float = DEFAULT_INLINE_READ_MS,
    ) -> None:
        """`buffer_pool_mb`: the engine's memory cap (None: `default_buffer_pool_mb` of the
        database on disk); `checkpoint_wal_bytes`: WAL size that makes the writer checkpoint;
        `inline_read_ms`: a read's budget on the event loop's thread (`engine.py`)."""
        super().__init__()
        self.path = path
        self.heads = HeadCache()  # of revisions (`write_revision`), as committed
        self.pessimistic_revisions = 0  # revisions run again with a read after a cached head failed
        self._count_lock = threading.Lock()
        self._subtree_sizes = SubtreeSizes(subtree_policy or SubtreePolicy())
        pool_mb = default_buffer_pool_mb(path) if buffer_pool_mb is None else buffer_pool_mb
        self._engine = Engine(path, readers=readers, count=self._count, batch_size=batch_size,
                              buffer_pool_bytes=pool_mb << 20, checkpoint_wal_bytes=checkpoint_wal_bytes,
                              inline_read_ms=inline_read_ms)
        self.group_commit = RevisionGroups(self._engine, self.heads)

    @property
    def subtree_policy(self) -> SubtreePolicy:
        """When path-prefix reads walk the subtree instead of scanning (`subtree.py`)."""
        return self._subtree_sizes.policy

    @subtree_policy.setter
    def subtree_policy(self, policy: SubtreePolicy) -> None:
        self._subtree_sizes = SubtreeSizes(policy)

    @property
    def buffer_pool_mb(self) -> int:
        return self._engine.buffer_pool_bytes >> 20

    @property
    def read_counts(self) -> dict[str, int]:
        """Where reads ran so far: on the event loop's thread, on reader threads, how many of
        those passed the loop's budget first, and how many snapshot reads met a commit and ran
        again in a transaction (graph/ladybug/engine.py)."""
        engine = self._engine
        return {"inline_reads": engine.inline_reads, "threaded_reads": engine.threaded_reads,
                "inline_overruns": engine.inline_overruns, "snapshot_retries": engine.snapshot_retries}

    async def memory(self) -> tuple[int, int]:
        """(buffer pool size, bytes in use) as LadybugDB counts them."""
        return await asyncio.to_thread(self._engine.memory)

    def _count(self) -> None:
        with self._count_lock:
            self.queries += 1

    # -- lifecycle and schema ------------------------------------------------

    async def open(self) -> None:
        self.heads.clear()  # the files may have changed while closed
        if not self._engine.is_open:
            await asyncio.to_thread(self._engine.open_sync)

    async def close(self) -> None:
        self.heads.clear()
        if self._engine.is_open:
            await asyncio.to_thread(self._engine.close_sync)

    async def applied_migrations(self) -> list[str]:
        try:
            rows = await self._engine.read("MATCH (m:Migration) RETURN m.id ORDER BY m.seq")
        except RuntimeError:
            tables = await self._engine.read("CALL show_tables() WHERE name = 'Migration' RETURN name")
            if not tables:
                return []  # nothing applied yet: the tracking table is created by the first migration
            raise
        return [row[0] for row in rows]

    async def apply_migration(self, migration_id: str, statements: Sequence[str]) -> None:
        def work(tx: Tx) -> None:
            tx.run("CREATE NODE TABLE IF NOT EXISTS Migration(id STRING PRIMARY KEY, seq INT64, applied_at INT64)")
            if tx.run("MATCH (m:Migration {id: $id}) RETURN m.id", {"id": migration_id}):
                raise ConflictError(f"migration {migration_id} is already applied", migration=migration_id)
            for statement in statements:
                tx.run(statement)
            seq = tx.run("MATCH (m:Migration) RETURN count(m)")[0][0] + 1
            tx.run(
                "CREATE (m:Migration {id: $id, seq: $seq, applied_at: $at})",
                {"id": migration_id, "seq": seq, "at": _now_us()},
            )

        try:
            await self._engine.write(work)
        finally:
            self.heads.clear()  # a migration may rewrite contexts

    # -- contexts: reads ----------------------------------------------------

    async def get_by_ids(self, workspace: str, ids: Sequence[str]) -> dict[str, ContextRecord]:
        ids = _unique(ids)
        if not ids:
            return {}
        rows = await self._engine.read(
            f"UNWIND $ids AS i MATCH (c:Context {{id: i}}) WHERE c.workspace = $ws RETURN {C_COLS}",
            {"ids": ids, "ws": workspace},
        )
        return {rec.id: rec for rec in map(_context, rows)}

    async def get_by_paths(self, workspace: str, paths: Sequence[str]) -> dict[str, ContextRecord]:
        paths = _unique(paths)
        if not paths:
            return {}
        rows = await self._engine.read(Q_AT_PATHS, {"keys": [_key(workspace, p) for p in paths], "ws": workspace})
        return {rec.path: rec for rec in map(_context, rows)}

    async def read_tree(self, workspace: str, paths: Sequence[str], plan: TreePlan) -> TreeRead:
        """The contexts, then per level one statement for the page and the count (see
        `_children_level`), all in one reader-thread call; a read of more than one level of
        children as one snapshot read, so the tree is one state and a level whose
        parents are the children of one context can be read from it (`_SIBLINGS`)."""
        keys = [_key(workspace, p) for p in _unique(paths)]
        fields = fetched(plan.fields)
        names, cols = _columns(fields)
        at_paths = _AT_PATHS.format(cols=cols)
        deep = plan.page is not None and plan.below is not None and plan.below.page is not None

        def work(run: Reader) -> TreeRead:
            found = run(at_paths, {"keys": keys, "ws": workspace}) if keys else []
            read = TreeRead(contexts={rec.path: rec for rec in _records(found, names, fields)})
            parents = [record.id for record in read.contexts.values()]
            level: TreePlan | None = plan
            under: tuple[str, int] | None = None
            while level is not None and parents:
                if level.page is None:
                    if level.count:
                        read.counts.update(_count_children(run, workspace, parents))
                    break
                pages, seen = _level(run, workspace, parents, level.page, fields, under if deep else None)
                if level.count:
                    read.counts.update(_children_level_counts(run, workspace, parents, level.page, seen))
                read.children.update(pages)
                # The next level's parents are children of one context when this level had one parent.
                under = (parents[0], seen.get(parents[0], 0)) if len(parents) == 1 else None
                parents = level.parents_below(pages.values())
                level = level.below
            return read

        return await self._engine.read_with(work, snapshot=deep)

    async def list_children(
        self, workspace: str, parent_ids: Sequence[str], page: Page
    ) -> dict[str, list[ContextRecord]]:
        parent_ids = _unique(parent_ids)
        if not parent_ids or page_limit(page) == 0:
            return {pid: [] for pid in parent_ids}
        return await self._engine.read_with(
            lambda run: _children_level(run, workspace, parent_ids, page, count=False)[0]
        )

    async def count_children(self, workspace: str, parent_ids: Sequence[str]) -> dict[str, int]:
        parent_ids = _unique(parent_ids)
        if not parent_ids:
            return {}
        return await self._engine.read_with(lambda run: _count_children(run, workspace, parent_ids))

    async def find_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page
    ) -> list[ContextRecord]:
        if page_limit(page) == 0:
            return []
        keys = keyset.contexts(order)
        query, params = _find_statement(workspace, where, order, page)
        root = subtree_root(where) if keys == _BY_PATH else None
        if root is None:
            return _ranked(await self._engine.read(query, params), keys)

        def in_subtree(run: Reader) -> list[ContextRecord]:
            walked = _walk_page(run, self._subtree_sizes, workspace, root, where, page)
            return walked[0] if walked is not None else _ranked(run(query, params), keys)

        return await self._engine.read_with(in_subtree)

    async def find_and_count_contexts(
        self, workspace: str, where: Filter | None, order: Sequence[Order], page: Page,
        fields: frozenset[str] | None = None,
    ) -> tuple[list[ContextRecord], int]:
        keys = keyset.contexts(order)
        if page_limit(page) == 0:
            return [], await self.count_contexts(workspace, where)
        if keys == _BY_PATH:
            # One statement counts the matches and picks the page: collect "path NUL id" of the
            # matches past the seek position, sort, keep the first `limit`, read those by id.
            # It walks the subtree of a path prefix when that is cheaper (`subtree.py`), else
            # scans the workspace.
            # The page's rows are read with the columns the selection reads (`fields`) only: the
            # other ones (`content`, `data`) cost reading and decoding.
            clause, picked, bound = _by_path_parts(workspace, where, page)
            root = subtree_root(where)
            projected = fetched(with_order_keys(fields, order))
            names, cols = _columns(projected)

            def by_path(run: Reader) -> tuple[list[ContextRecord], int]:
                if root is not None:
                    walked = _walk_page(run, self._subtree_sizes, workspace, root, where, page, projected)
                    if walked is not None:
                        return walked
                rows = run(_SCAN_PAGE.format(clause=clause, picked=picked, cols=cols), bound)
                if rows:
                    return _ranked([row[1:] for row in rows], _RANK, names, projected), int(rows[0][0])
                if page.after is None:
                    return [], 0  # no match at all
                return [], _count(run, workspace, where)  # matches, all before the position

            return await self._engine.read_with(by_path)
        query, params = _find_statement(workspace, where, order, page)

        def other_order(run: Reader) -> tuple[list[ContextRecord], int]:
            return _ranked(run(query, params), keys), _count(run, workspace, where)

        return await self._engine.read_with(other_order)

    async def count_contexts(self, workspace: str, where: Filter | None) -> int:
        root = subtree_root(where)

        def count(run: Reader) -> int:
            if root is not None:
                walked = _walk_count(run, self._subtree_sizes, workspace, root, where)
                if walked is not None:
                    return walked
            return _count(run, workspace, where)

        return await self._engine.read_with(count)

    # -- contexts: writes ---------------------------------------------------

    async def write(self, work: Work[T]) -> T:
        try:
            return await self._engine.transaction(lambda tx: work(LadybugWriteTx(tx)))
        finally:
            # Any write but a revision may move, rename or delete contexts (and this one may have
            # committed before failing): the cached heads go. Before the next writer starts, as
            # nothing awaits between the commit and here.
            self.heads.clear()

    async def write_revision(self, work: Work[T]) -> T:
        """`write` with the locked heads taken from `heads` where it has them (graph/ladybug/writes.py).
        While the writer is busy, the revision waits and goes with the others waiting, in one
        transaction (graph/ladybug/group_commit.py); one its group did not land runs again alone."""
        if not self.group_commit.busy:
            return await self._revise_alone(work)
        try:
            return await self.group_commit.revise(work)
        except RunAlone as again:
            if not again.read:
                return await self._revise_alone(work)
            self.pessimistic_revisions += 1
            return await self.write(work)

    async def _revise_alone(self, work: Work[T]) -> T:
        """A revision in a transaction of its own: BEGIN, the writes and COMMIT in one writer-thread
        call when every head came from the cache. A head from the cache that is not the stored one
        (`StaleHead`), or a domain error judged on one, runs the work again in `write`; an engine
        failure (a full buffer pool) reaches the caller as from `write`."""
        writes: LadybugWriteTx | None = None

        async def run(tx: AsyncTx) -> T:
            nonlocal writes
            writes = LadybugWriteTx(tx, self.heads)
            result = await work(writes)
            writes.check_cached()
            return result

        try:
            result = await self._engine.transaction(run)
        except (StaleHead, ContextQLError) as exc:
            if writes is None or not writes.cached or isinstance(exc, StoreUnavailableError):
                raise
            writes.forget()
            self.pessimistic_revisions += 1
            return await self.write(work)
        assert writes is not None  # the transaction ran `run`
        writes.remember()
        return result

    @contextlib.asynccontextmanager
    async def frozen(self) -> AsyncIterator[bool]:
        async with self._engine.writes_paused():  # this process is the only writer (`single_process`)
            yield True

    # -- versions -------------------------------------------------------------

    _VERSIONS_OF = "MATCH (c:Context {id: $id})-[:HAS_VERSION]->(v:Version) WHERE c.workspace = $ws "

    async def list_versions(self, workspace: str, context_id: str, page: Page) -> list[VersionRecord]:
        seek, after = seek_clause("v", keyset.VERSIONS, page)
        if page_limit(page) == 0:
            return []
        rows = await self._engine.read(
            self._VERSIONS_OF + f"AND {seek} RETURN {V_COLS} "
            f"ORDER BY {order_clause('v', keyset.VERSIONS)} {limit_clause(page)}",
            {**after, "id": context_id, "ws": workspace},
        )
        return [_version(row) for row in rows]

    async def count_versions(self, workspace: str, context_id: str) -> int:
        rows = await self._engine.read(self._VERSIONS_OF + "RETURN count(v)", {"id": context_id, "ws": workspace})
        return int(rows[0][0]) if rows else 0

    async def get_version(self, workspace: str, context_id: str, number: int) -> VersionRecord | None:
        rows = await self._engine.read(
            f"MATCH (v:Version {{id: $vid}}) WHERE v.workspace = $ws AND v.context_id = $id RETURN {V_COLS}",
            {"vid": f"{context_id}:{int(number)}", "ws": workspace, "id": context_id},
        )
        return _version(rows[0]) if rows else None

    async def get_version_at(self, workspace: str, context_id: str, at: int) -> VersionRecord | None:
        rows = await self._engine.read(
            self._VERSIONS_OF + f"AND v.created_at <= $at RETURN {V_COLS} "
            "ORDER BY v.created_at DESC, v.number DESC LIMIT 1",
            {"id": context_id, "ws": workspace, "at": int(at)},
        )
        return _version(rows[0]) if rows else None

    async def versions_of(self, workspace: str, context_ids: Sequence[str]) -> dict[str, list[VersionRecord]]:
        context_ids = _unique(context_ids)
        result: dict[str, list[VersionRecord]] = {cid: [] for cid in context_ids}
        if not context_ids:
            return result
        rows = await self._engine.read(
            "UNWIND $ids AS i MATCH (c:Context {id: i}) WHERE c.workspace = $ws "
            "OPTIONAL MATCH (c)-[:HAS_VERSION]->(v:Version) WITH v WHERE v IS NOT NULL "
            f"RETURN {V_COLS} ORDER BY v.context_id, v.number",
            {"ids": context_ids, "ws": workspace},
        )
        for row in rows:
            rec = _version(row)
            result[rec.context_id].append(rec)
        return result

    # -- context types --------------------------------------------------------

    async def get_context_type(self, workspace: str, name: str) -> ContextTypeRecord | None:
        rows = await self._engine.read(
            f"MATCH (t:ContextType {{key: $key}}) RETURN {T_COLS}", {"key": _key(workspace, name)}
        )
        return _type(rows[0]) if rows else None

    async def list_context_types(self, workspace: str) -> list[ContextTypeRecord]:
        rows = await self._engine.read(
            f"MATCH (t:ContextType) WHERE t.workspace = $ws RETURN {T_COLS} ORDER BY t.name", {"ws": workspace}
        )
        return [_type(row) for row in rows]

    # -- bulk -----------------------------------------------------------------

    # -- access control (graph/ladybug/access.py) -----------------------------

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return await access.get_key(self._engine, key_id)

    async def list_api_keys(self, workspace: str) -> list[ApiKeyRecord]:
        return await access.list_keys(self._engine, workspace)

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        await access.append_audit(self._engine, records)

    async def list_audit(
        self, workspace: str, page: Page, principal: str | None = None, outcome: str | None = None
    ) -> list[AuditRecord]:
        return await access.list_audit(self._engine, workspace, page, principal, outcome)

    async def count_audit(self, workspace: str, principal: str | None = None, outcome: str | None = None) -> int:
        return await access.count_audit(self._engine, workspace, principal, outcome)

    # -- search-index outbox ----------------------------------------------------

    async def claim_index_tasks(
        self, now: int, lease_us: int, limit: int, workspace: str | None = None
    ) -> list[IndexTask]:
        return await outbox.claim(self._engine, now, lease_us, limit, workspace)

    async def complete_index_tasks(self, tasks: Sequence[IndexTask]) -> int:
        return await outbox.complete(self._engine, tasks)

    async def retry_index_task(self, task: IndexTask, not_before: int, error: str) -> None:
        await outbox.retry(self._engine, task, not_before, error)

    async def release_index_claims(self) -> int:
        return await outbox.release_claims(self._engine)

    async def count_index_tasks(self, workspace: str | None = None) -> int:
        return await outbox.count(self._engine, workspace)

    async def index_outbox_summary(self) -> tuple[int, int | None]:
        return await outbox.summary(self._engine)
