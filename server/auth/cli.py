"""`contextql api-key create|list|revoke`: manage API keys from the command line (the first admin key, too)."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, UTC

from rich.console import Console

from contextql.graph.access import ApiKeyRecord
from contextql.graph.errors import BadUserInputError, NotFoundError
from contextql.resolvers import api_keys, audit
from contextql.resolvers.clock import from_datetime
from contextql.resolvers.principal import Principal
from contextql.resolvers.request import RequestContext

from ..settings import Settings
from ..stores import EXIT_CONFIG

err = Console(stderr=True)
out = Console()


def add_commands(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("api-key", help="create, list or revoke API keys", parents=parents)
    actions = keys.add_subparsers(dest="key_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print its secret (shown only once)",
                                parents=parents)
    create.add_argument("--name", required=True)
    create.add_argument("--role", action="append", required=True, help="admin, editor, agent or viewer (repeatable)")
    create.add_argument("--workspace", action="append", help="workspace it may act in (repeatable; default: configured)")
    create.add_argument("--kind", default="agent", choices=api_keys.KINDS)
    create.add_argument("--expires-days", type=float, help="days until it stops working (default: never)")
    listing = actions.add_parser("list", help="list the keys managed in a workspace", parents=parents)
    listing.add_argument("--workspace", default=None)
    revoke = actions.add_parser("revoke", help="revoke a key at once", parents=parents)
    revoke.add_argument("id")
    revoke.add_argument("--workspace", default=None)


def operator_context(store, settings: Settings, workspaces: list[str]) -> RequestContext:
    # Whoever runs the CLI holds the store's credentials: an admin of the workspaces it names.
    operator = Principal(id="cli", kind="service", roles=frozenset({"admin"}), workspaces=frozenset(workspaces))
    return RequestContext(store=store, principal=operator, workspace=workspaces[0], limits=settings.limits())


# The audit entry is a draft that the key's own write commits (as for the GraphQL mutations, see
# resolvers/audit.py): a key never exists without its entry, and an entry never claims a key that a
# failed write left out. A failed command is not audited: it changed nothing and the operator, who
# holds the store's credentials, sees the error on the terminal.

async def create_key(
    ctx: RequestContext, name: str, kind: str, roles: list[str], workspaces: list[str], expires_at: int
) -> api_keys.IssuedKey:
    audit.begin(ctx, "cli createApiKey", f"name={name}")
    return await api_keys.create(ctx, name, kind, roles, workspaces, expires_at)


async def revoke_key(ctx: RequestContext, key_id: str) -> ApiKeyRecord:
    audit.begin(ctx, "cli revokeApiKey", f"id={key_id}")
    return await api_keys.revoke(ctx, key_id)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from ..stores import open_store

    store = await open_store(settings)
    try:
        return await _act(store, settings, args)
    except (BadUserInputError, NotFoundError) as mistake:
        # A mistyped role or key id is the operator's to fix, not a failure of the program.
        err.print(f"error: {mistake.message}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_CONFIG
    finally:
        await store.close()


async def _act(store, settings: Settings, args: argparse.Namespace) -> int:
    if args.key_action == "create":
        workspaces = args.workspace or [settings.workspace]
        ctx = operator_context(store, settings, workspaces)
        expires = (from_datetime(datetime.now(UTC) + timedelta(days=args.expires_days))
                   if args.expires_days else 0)
        issued = await create_key(ctx, args.name, args.kind, args.role, workspaces, expires)
        err.print(f"API key {issued.record.id} ({', '.join(issued.record.roles)} in "
                  f"{', '.join(issued.record.workspaces)}). The secret is shown only now:", soft_wrap=True)
        out.print(issued.secret, soft_wrap=True)
        return 0
    ctx = operator_context(store, settings, [args.workspace or settings.workspace])
    if args.key_action == "list":
        for key in await api_keys.list_all(ctx):
            state = "revoked" if key.revoked_at else "active"
            out.print(f"{key.id}  {key.name}  {key.kind}  {','.join(key.roles)}  {','.join(key.workspaces)}  {state}")
        return 0
    revoked = await revoke_key(ctx, args.id)
    err.print(f"API key {revoked.id} revoked.")
    return 0
