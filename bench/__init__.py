"""ContextQL benchmark: a seeded 50k-context tree, an HTTP load driver and a runner for both backends.

See bench/README.md. Entry point: `python -m bench --backend ladybug|neo4j|both`.
"""
