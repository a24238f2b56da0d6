"""Storage: the graph-store contract, its backends, and the records they exchange.

Nothing in this package knows about GraphQL or HTTP.
"""
