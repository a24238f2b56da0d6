"""What the parts of one app share: held on `app.state`, read through `app_state`."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette

from contextql.graph.events import EventBus
from contextql.graph.store import GraphStore
from contextql.resolvers.index_ops import IndexJobs

from .search import SearchRuntime
from .settings import Settings


@dataclass
class AppState:
    settings: Settings = field(repr=False)  # holds secrets
    events: EventBus
    # None until the lifespan has opened it (a caller that passes its own store sets it up front).
    store: GraphStore | None = None
    # None when search is off; the caller's runtime when it passed one with its store.
    search: SearchRuntime | None = None
    # Reindex jobs started through the API (resolvers/index_ops.py).
    index_jobs: IndexJobs = field(default_factory=IndexJobs)
    # The local admin channel's token while the server publishes one (server/local_admin.py).
    admin_token: str | None = field(default=None, repr=False)

    def require_store(self) -> GraphStore:
        """The store, for work that only runs once the app has started."""
        if self.store is None:
            raise RuntimeError("the graph store is not open yet: the app's lifespan opens it")
        return self.store


def app_state(app: Starlette) -> AppState:
    state = getattr(app.state, "contextql", None)
    if not isinstance(state, AppState):
        raise TypeError("not an app built by server.app.create_app")
    return state
