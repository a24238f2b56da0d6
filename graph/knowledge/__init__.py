"""The knowledge graph around the contexts: tools, executions, relationships and provenance.

`records.py` holds the records, `contract.py` the storage operations (mixed into
`graph.store.GraphStore`, so every backend implements them), `names.py` the name rules
that make values safe to use as graph identifiers.
"""
