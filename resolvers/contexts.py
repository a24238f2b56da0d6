"""Context operations: the domain rules for creating, changing, moving, deleting and reading contexts.

Every write builds the complete new state and its version here, then hands both
to the store in one atomic call.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from contextql.graph import tree
from contextql.graph.events import ChangeEvent, ContextDetail
from contextql.graph.errors import BadUserInputError, ConflictError, NotFoundError
from contextql.graph.filters import Filter, Order, comparisons, subtree
from contextql.graph.knowledge.records import SourceRef
from contextql.graph.records import ContextRecord, Page, TreePlan, VersionRecord, fetched_fields
from contextql.graph.writes import WriteEffects

from . import audit, paths
from .clock import now_us
from .context_types import Validators, validators_for
from .inheritance import EffectiveView, effective_view, merge_patch
from .loaders import MISSING, ChildrenKey, cached
from .json_patch import apply_json_patch, json_patch
from .pagination import CHILDREN, HISTORY, Slice, contexts_scope, cut, probe, window
from .request import RequestContext
from .validation import check_fields, check_kind, normalize_tags

DEFAULT_KIND = "context"
# Levels of children a single read fetches ahead (deeper ones resolve through the loaders).
MAX_PREFETCH_DEPTH = 4
MAX_SOURCES = 100
VERSIONED_FIELDS = ("kind", "title", "content", "data", "tags", "inherit")


@dataclass
class NewContext:
    path: str
    kind: str = DEFAULT_KIND
    title: str = ""
    content: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    inherit: bool = True
    derived_from: list[str] = field(default_factory=list)


@dataclass
class ContextChanges:
    """A partial update: fields left as None are kept."""

    kind: str | None = None
    title: str | None = None
    content: str | None = None
    data: dict[str, Any] | None = None
    merge_data: dict[str, Any] | None = None
    patch_data: list[Any] | None = None
    tags: list[str] | None = None
    inherit: bool | None = None


@dataclass(frozen=True)
class Ref:
    """A context named by exactly one of its path or its id."""

    path: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.id is None):
            raise BadUserInputError("Name the context by exactly one of `path` or `id`.")


# -- reads ------------------------------------------------------------------


async def by_path(ctx: RequestContext, raw_path: str) -> ContextRecord | None:
    return await ctx.loaders.by_path.load(paths.normalize(raw_path))


async def by_id(ctx: RequestContext, context_id: str) -> ContextRecord | None:
    if not _is_uuid(context_id):
        return None
    return await ctx.loaders.by_id.load(context_id)


@dataclass(frozen=True)
class ChildrenWanted:
    """What an operation selects below a context: a page of its children (`first`/`after` as
    given), whether their `totalCount`, and the same again below each child. `fields`, on the
    outermost only: the record attributes the whole selection reads (None: all, see `TreePlan`)."""

    first: int | None = None
    after: str | None = None
    count: bool = False
    below: ChildrenWanted | None = None
    fields: frozenset[str] | None = None


async def by_path_with_children(ctx: RequestContext, raw_path: str, wanted: ChildrenWanted) -> ContextRecord | None:
    """A context by path, reading the children pages and counts `wanted` in the same store call.

    What is read is primed into the request's loaders, so the fields below find it there; a
    selection the plan cannot express (a malformed cursor, say) is left to those fields.
    Records read with only the selection's `fields` are partial: the pages of children are primed
    under keys naming that projection (see `children_key`), and by id and path only complete
    records are (`Loaders.prime` skips the others).
    """
    path = paths.normalize(raw_path)
    plan = _tree_plan(ctx, wanted)
    if plan is not None:
        plan = replace(plan, fields=wanted.fields)
    if plan is None:
        return await by_path(ctx, path)
    read = await ctx.store.read_tree(ctx.workspace, [path], plan)
    for record in read.contexts.values():
        ctx.loaders.prime(record)
    parents = list(read.contexts.values())
    level: TreePlan | None = plan
    while level is not None and parents:
        for parent in parents:
            if level.count and parent.id in read.counts:
                ctx.loaders.child_counts.prime(parent.id, read.counts[parent.id])
        if level.page is None:
            break
        below = []
        for parent in parents:
            page = read.children.get(parent.id)
            if page is None:  # a probe row: its page was not read (`TreePlan.shown`)
                continue
            ctx.loaders.children.prime(children_key(parent, level.page), page)
            for child in page:
                ctx.loaders.prime(child)
                below.append(child)
        parents, level = below, level.below
    found = read.contexts.get(path)
    if found is None:
        ctx.loaders.by_path.prime(path, None)
    return found


def _tree_plan(ctx: RequestContext, wanted: ChildrenWanted | None, depth: int = 0) -> TreePlan | None:
    if wanted is None or depth > MAX_PREFETCH_DEPTH:
        return None
    try:
        page = window(ctx.limits, CHILDREN, wanted.first, wanted.after)
    except BadUserInputError:
        return None  # the `children` field itself will say what is wrong
    # The probe row (`hasNextPage`) is never shown, so nothing is read below it.
    return TreePlan(page=probe(page), count=wanted.count, below=_tree_plan(ctx, wanted.below, depth + 1),
                    shown=page.limit)


async def target(ctx: RequestContext, *, path: str | None = None, id: str | None = None) -> ContextRecord:
    """The context named by exactly one of `path` / `id`, or `NotFoundError`."""
    if path is not None and id is None:
        record = await by_path(ctx, path)
    elif id is not None and path is None:
        record = await by_id(ctx, id)
    else:
        raise BadUserInputError("Name the context by exactly one of `path` or `id`.")
    if record is None:
        raise NotFoundError(f"No context {path if path is not None else id!r} in workspace {ctx.workspace!r}.")
    return record


def _bounded(ctx: RequestContext, where: Filter | None) -> None:
    limit = ctx.limits.max_filter_comparisons
    if where is not None and (found := comparisons(where)) > limit:
        raise BadUserInputError(
            f"`where` holds {found} comparisons, more than {limit}: narrow it, or put a list of values in one `in`.",
            limit=limit)


async def find(
    ctx: RequestContext, where: Filter | None, order: Sequence[Order], first: int | None, after: str | None
) -> Slice[ContextRecord]:
    _bounded(ctx, where)
    scope = contexts_scope(order)
    page = window(ctx.limits, scope, first, after)
    rows = await ctx.store.find_contexts(ctx.workspace, where, order, probe(page))
    return cut(rows, page, scope)


async def find_counted(
    ctx: RequestContext, where: Filter | None, order: Sequence[Order], first: int | None, after: str | None,
    fields: frozenset[str] | None = None,
) -> tuple[Slice[ContextRecord], int]:
    """`find` and how many match in all, read together; `fields`: the record attributes the
    selection reads (None: all), the rows may then be partial records (never primed anywhere)."""
    _bounded(ctx, where)
    scope = contexts_scope(order)
    page = window(ctx.limits, scope, first, after)
    rows, total = await ctx.store.find_and_count_contexts(ctx.workspace, where, order, probe(page), fields)
    return cut(rows, page, scope), total


async def count(ctx: RequestContext, where: Filter | None) -> int:
    _bounded(ctx, where)
    return await ctx.store.count_contexts(ctx.workspace, where)


async def parent(ctx: RequestContext, record: ContextRecord) -> ContextRecord | None:
    return None if record.parent_id is None else await ctx.loaders.by_id.load(record.parent_id)


async def children(ctx: RequestContext, record: ContextRecord, first: int | None, after: str | None) -> Slice[ContextRecord]:
    page = window(ctx.limits, CHILDREN, first, after)
    rows = await ctx.loaders.children.load(children_key(record, probe(page)))
    for row in rows:
        ctx.loaders.prime(row)
    return cut(rows, page, CHILDREN)


def children_key(parent: ContextRecord, page: Page) -> ChildrenKey:
    """The key of `parent`'s page of children in the request's loader. It names the attributes
    `parent` holds (None when complete): a partial parent was read by a projected read, whose pages
    of children hold the same attributes, and finds them; a complete parent (or one of another
    projection, from another root field) never finds a page of partial records missing what its
    own selection reads, and loads its own (complete) page."""
    return parent.id, page.limit, page.after, fetched_fields(parent)


async def child_count(ctx: RequestContext, record: ContextRecord) -> int:
    return await ctx.loaders.child_counts.load(record.id)


def children_known(ctx: RequestContext, record: ContextRecord, first: int | None, after: str | None
                   ) -> Slice[ContextRecord] | None:
    """`children` when this request has the page already (read ahead, or loaded before), else None.

    Its rows were primed into the loaders when the page was read, so they are not primed again
    (that could put an older record back over a newer one)."""
    page = window(ctx.limits, CHILDREN, first, after)
    rows = cached(ctx.loaders.children, children_key(record, probe(page)))
    return None if rows is MISSING else cut(rows, page, CHILDREN)


def child_count_soon(ctx: RequestContext, record: ContextRecord) -> int | Awaitable[int]:
    """The number of children: the count itself when this request has it, else the load."""
    known = cached(ctx.loaders.child_counts, record.id)
    return child_count(ctx, record) if known is MISSING else known


async def ancestors(ctx: RequestContext, record: ContextRecord) -> list[ContextRecord]:
    """Ancestors root first."""
    found = await ctx.loaders.by_path.load_many(paths.ancestors_of(record.path))
    return [a for a in found if a is not None]


async def descendants(ctx: RequestContext, record: ContextRecord, max_depth: int | None) -> list[ContextRecord]:
    if max_depth is not None and max_depth < 1:
        raise BadUserInputError("`maxDepth` must be at least 1.")
    limit = ctx.limits.max_descendants
    rows = await ctx.store.find_contexts(
        ctx.workspace, subtree(record.path, include_self=False, max_depth=max_depth), [Order("path")], Page(limit + 1)
    )
    if len(rows) > limit:
        raise BadUserInputError(
            f"{record.path} has more than {limit} descendants in range: lower `maxDepth` or page with "
            "`contexts(where: {path: {startsWith: ...}})`.",
            limit=limit,
        )
    return rows


async def effective(ctx: RequestContext, record: ContextRecord) -> EffectiveView:
    return effective_view([*await ancestors(ctx, record), record])


# -- writes -----------------------------------------------------------------
# Each write is one store transaction carrying its version, index task, lineage and audit
# entry. The new state is computed from the head read inside that transaction (under its
# lock), so concurrent writers never lose each other's changes; `expectedVersion` is
# checked there too.


async def create(
    ctx: RequestContext, items: Sequence[NewContext], create_parents: bool, execution_id: str | None = None
) -> list[ContextRecord]:
    """Create contexts atomically (all or none), parents before children.

    With `execution_id` (a tool run's output), every requested context records that run in its lineage.
    """
    if not items:
        raise BadUserInputError("Nothing to create: pass at least one context.")
    if len(items) > ctx.limits.max_bulk:
        raise BadUserInputError(f"At most {ctx.limits.max_bulk} contexts per call.", limit=ctx.limits.max_bulk)
    wanted: dict[str, NewContext] = {}
    for item in items:
        normalised = paths.normalize(item.path)
        if normalised in wanted:
            raise BadUserInputError(f"{normalised} appears twice in one call.")
        check_kind(item.kind)
        check_fields(ctx.limits, title=item.title, content=item.content, data=item.data, tags=item.tags)
        wanted[normalised] = item
    requested = set(wanted)
    sources = {p: await derivation_sources(ctx, item.derived_from) for p, item in wanted.items()}

    # Parents that look missing now; the transaction re-checks, and keeps one made meanwhile.
    ancestors = {a for p in wanted for a in paths.ancestors_of(p)} - set(wanted)
    existing = await ctx.store.get_by_paths(ctx.workspace, sorted(ancestors))
    missing_parents = sorted(a for a in ancestors if a not in existing)
    if missing_parents and not create_parents:
        raise NotFoundError(
            f"Parent {missing_parents[0]} does not exist: create it first or pass `createParents: true`.",
            paths=missing_parents,
        )
    for missing in missing_parents:
        wanted[missing] = NewContext(path=missing)

    validators = await validators_for(ctx, {item.kind for item in wanted.values()})
    now, author = now_us(), ctx.principal.id
    ids = {p: rec.id for p, rec in existing.items()}
    contexts, versions = [], []
    for path in sorted(wanted, key=lambda p: (p.count("/"), p)):
        item = wanted[path]
        validators.check(item.kind, item.data, path)
        ids[path] = str(uuid.uuid4())
        parent_path = paths.parent_of(path)
        record = ContextRecord(
            id=ids[path], workspace=ctx.workspace, path=path,
            parent_id=ids[parent_path] if parent_path else None,
            kind=item.kind, title=item.title, content=item.content, data=item.data,
            tags=normalize_tags(item.tags), inherit=item.inherit, version=1,
            created_at=now, updated_at=now, created_by=author, updated_by=author,
        )
        contexts.append(record)
        versions.append(_snapshot(record, 1, "create", list(VERSIONED_FIELDS), author, now))
    effects = _effects(ctx, {ids[p]: refs for p, refs in sources.items() if refs or execution_id}, execution_id)
    written = await ctx.store.write(
        lambda tx: tree.insert(tx, ctx.workspace, contexts, versions, (), effects, ensure=missing_parents)
    )
    audit.committed(ctx)
    await publish(ctx, [_event(ctx, r, "created", list(VERSIONED_FIELDS)) for r in written])
    for record in written:
        ctx.loaders.prime(record)
    ctx.loaders.children.clear_all()
    ctx.loaders.child_counts.clear_all()
    return [r for r in written if r.path in requested]


async def update(
    ctx: RequestContext, ref: Ref, changes: ContextChanges, expected_version: int | None,
    derived_from: Sequence[str] = (), execution_id: str | None = None,
) -> ContextRecord:
    """Apply a partial update to the current head; returns it unchanged (no new version) when nothing differs.

    `merge_data` and `patch_data` apply to the data as committed when the write runs, so
    concurrent merges of different keys all land. An update that needs no schema check and
    records no lineage (a new title, say) reads nothing before its transaction.
    """
    given = [name for name in ("data", "merge_data", "patch_data") if getattr(changes, name) is not None]
    if len(given) > 1:
        raise BadUserInputError("Pass one of `data` (replace), `mergeData` (deep merge) or `patchData` (JSON Patch).")
    if changes.kind is not None:
        check_kind(changes.kind)
    if changes.merge_data is not None and not isinstance(changes.merge_data, dict):
        raise BadUserInputError("`mergeData` must be a JSON object.")
    patch = None if changes.patch_data is None else json_patch(changes.patch_data)
    check_fields(ctx.limits, title=changes.title, content=changes.content, data=changes.data, tags=changes.tags)
    sources = await derivation_sources(ctx, derived_from)
    tags = None if changes.tags is None else normalize_tags(changes.tags)
    checked = changes.kind is not None or bool(given)
    if checked or sources or execution_id:
        current = await target(ctx, path=ref.path, id=ref.id)
        kinds = {current.kind} | ({changes.kind} if changes.kind else set())
        validators = await validators_for(ctx, kinds) if checked else Validators({})
        ref = Ref(id=current.id)
    else:
        kinds, validators = set(), Validators({})

    def revise(head: ContextRecord) -> tuple[ContextRecord, VersionRecord] | None:
        _check_expected(head, expected_version)
        data = changes.data
        if changes.merge_data is not None:
            data = merge_patch(head.data, changes.merge_data)
        elif patch is not None:
            data = apply_json_patch(head.path, head.data, patch)
        if data is not changes.data:
            check_fields(ctx.limits, data=data)
        proposed = {
            "kind": changes.kind, "title": changes.title, "content": changes.content, "data": data,
            "tags": tags, "inherit": changes.inherit,
        }
        return _revision(ctx, head, {k: v for k, v in proposed.items() if v is not None}, "update",
                         validators, kinds)

    return await _revise(ctx, ref, revise, sources, execution_id)


async def revert(ctx: RequestContext, record: ContextRecord, to_version: int, expected_version: int | None) -> ContextRecord:
    """A new version whose content equals version `to_version` (the path is not reverted)."""
    old = await ctx.store.get_version(ctx.workspace, record.id, to_version)
    if old is None:
        raise NotFoundError(f"{record.path} has no version {to_version} (latest is {record.version}).")
    state = {name: getattr(old, name) for name in VERSIONED_FIELDS}
    kinds = {old.kind}
    validators = await validators_for(ctx, kinds)

    def revise(head: ContextRecord) -> tuple[ContextRecord, VersionRecord] | None:
        _check_expected(head, expected_version)
        return _revision(ctx, head, state, "revert", validators, kinds, force_version=True)

    return await _revise(ctx, Ref(id=record.id), revise, [])


async def move(ctx: RequestContext, record: ContextRecord, raw_new_path: str, expected_version: int | None) -> tuple[ContextRecord, int]:
    """Move or rename a context with its whole subtree; returns the moved context and how many moved."""
    new_path = paths.normalize(raw_new_path)
    if new_path == record.path:
        _check_expected(record, expected_version)
        return record, 0
    now, author = now_us(), ctx.principal.id

    def relocate(head: ContextRecord) -> tuple[ContextRecord, VersionRecord]:
        moved = head.replace(path=new_path, version=head.version + 1, updated_at=now, updated_by=author)
        return moved, _snapshot(moved, moved.version, "move", ["path"], author, now)

    result = await ctx.store.move_context(ctx.workspace, record.id, expected_version, new_path, relocate, _effects(ctx))
    audit.committed(ctx)
    ctx.loaders.forget()
    fresh = result.record
    await publish(ctx, [_event(ctx, fresh, "moved", ["path"], from_path=record.path, moved_count=result.count)])
    return fresh, result.count


async def delete(ctx: RequestContext, record: ContextRecord, recursive: bool) -> int:
    head, removed = await ctx.store.delete_context(ctx.workspace, record.id, recursive, _effects(ctx))
    audit.committed(ctx)
    ctx.loaders.forget()
    await publish(ctx, [_event(ctx, head, "deleted", [], deleted_count=removed, recursive=recursive)])
    return removed


async def derivation_sources(ctx: RequestContext, refs: Sequence[str] | None) -> list[SourceRef]:
    """The contexts named (by path or id) as `derivedFrom`; `NotFoundError` for any missing one."""
    refs = refs or []
    if len(refs) > MAX_SOURCES:
        raise BadUserInputError(f"At most {MAX_SOURCES} `derivedFrom` sources.", limit=MAX_SOURCES)
    found = []
    for ref in dict.fromkeys(refs):
        source = await (by_path(ctx, ref) if ref.startswith("/") else by_id(ctx, ref))
        if source is None:
            raise NotFoundError(f"`derivedFrom` names {ref!r}, which is not a context in workspace {ctx.workspace!r}.")
        found.append(SourceRef(source.id, source.path, source.version))
    return found


# -- versions ---------------------------------------------------------------


async def history(ctx: RequestContext, record: ContextRecord, first: int | None, after: str | None) -> Slice[VersionRecord]:
    page = window(ctx.limits, HISTORY, first, after)
    rows = await ctx.store.list_versions(ctx.workspace, record.id, probe(page))
    return cut(rows, page, HISTORY)


async def find_version(ctx: RequestContext, context_id: str, number: int) -> VersionRecord | None:
    """Version `number` of the context `context_id` (of this workspace), if both exist."""
    return await ctx.store.get_version(ctx.workspace, context_id, number)


async def count_versions(ctx: RequestContext, record: ContextRecord) -> int:
    return await ctx.store.count_versions(ctx.workspace, record.id)


async def version(ctx: RequestContext, record: ContextRecord, number: int) -> VersionRecord:
    found = await ctx.store.get_version(ctx.workspace, record.id, number)
    if found is None:
        raise NotFoundError(f"{record.path} has no version {number} (latest is {record.version}).")
    return found


async def as_of(ctx: RequestContext, record: ContextRecord, at: int) -> VersionRecord | None:
    return await ctx.store.get_version_at(ctx.workspace, record.id, at)


# -- helpers ----------------------------------------------------------------


def _check_expected(record: ContextRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != record.version:
        raise tree.stale(record, expected_version)


def _effects(
    ctx: RequestContext, derived_from: dict[str, Sequence[SourceRef]] | None = None, execution_id: str | None = None
) -> WriteEffects:
    return WriteEffects(audit=audit.pending(ctx), derived_from=dict(derived_from or {}), execution_id=execution_id)


async def _revise(
    ctx: RequestContext, ref: Ref, revise: tree.Revise, sources: Sequence[SourceRef],
    execution_id: str | None = None,
) -> ContextRecord:
    lineage = {ref.id: sources} if ref.id is not None and (sources or execution_id) else None
    effects = _effects(ctx, lineage, execution_id)
    path = None if ref.path is None else paths.normalize(ref.path)
    updated, version = await ctx.store.revise_context(ctx.workspace, ref.id, revise, effects, path=path)
    audit.committed(ctx)
    if version is not None:
        operation = "reverted" if version.operation == "revert" else "updated"
        await publish(ctx, [_event(ctx, updated, operation, list(version.changed))])
    ctx.loaders.prime(updated)
    return updated


def _revision(
    ctx: RequestContext, head: ContextRecord, state: dict[str, Any], operation: str, validators: Validators,
    kinds: set[str], force_version: bool = False,
) -> tuple[ContextRecord, VersionRecord] | None:
    """The head's next version with `state`, validated; None when nothing would change."""
    changed = [name for name, value in state.items() if getattr(head, name) != value]
    if not changed and not force_version:
        return None
    kind = state.get("kind", head.kind)
    data = state.get("data", head.data)
    if "kind" in changed or "data" in changed or force_version:
        if kind not in kinds:
            raise ConflictError(f"{head.path} changed its kind meanwhile: re-read it and retry.", paths=[head.path])
        validators.check(kind, data, head.path)
    now = now_us()
    updated = head.replace(**state, version=head.version + 1, updated_at=now, updated_by=ctx.principal.id)
    return updated, _snapshot(updated, updated.version, operation, changed, ctx.principal.id, now)


async def publish(ctx: RequestContext, events: list[ChangeEvent]) -> None:
    """Hand committed changes to the event bus (called only after the store call returned)."""
    await ctx.events.publish(events)


def _event(ctx: RequestContext, record: ContextRecord, operation: str, changed: list[str], **detail: Any) -> ChangeEvent:
    return ChangeEvent(
        workspace=ctx.workspace, topic="context", operation=operation, key=record.id, at=record.updated_at,
        principal=ctx.principal.id, path=record.path, kind=record.kind, version=record.version,
        changed=changed, detail=ContextDetail(id=record.id, **detail),
    )


def _snapshot(record: ContextRecord, number: int, operation: str, changed: list[str], author: str, at: int) -> VersionRecord:
    return VersionRecord(
        context_id=record.id, workspace=record.workspace, number=number, operation=operation,
        path=record.path, kind=record.kind, title=record.title, content=record.content,
        data=record.data, tags=record.tags, inherit=record.inherit, author=author, created_at=at, changed=changed,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
