"""Resolver functions and the domain rules they apply: paths, inheritance,
versioning, validation, batching. Plain async functions over a `RequestContext`;
GraphQL types live in `schema/`, storage in `graph/`.
"""
