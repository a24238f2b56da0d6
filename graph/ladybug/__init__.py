"""The embedded LadybugDB backend of the graph-store contract."""

from .store import LadybugStore

__all__ = ["LadybugStore"]
