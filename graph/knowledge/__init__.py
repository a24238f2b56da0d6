"""The knowledge graph around the contexts: tools, executions, relationships and provenance.

`records.py` holds the records, `contract.py` the storage reads (mixed into
`graph.store.GraphStore`, so every backend implements them), `rules.py` the write rules
(written once, over `graph.writes.WriteTx`), `names.py` the name rules that make values safe
to use as graph identifiers.
"""
