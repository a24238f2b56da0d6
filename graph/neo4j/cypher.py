"""The Cypher statements of the Neo4j backend's reads (one per operation), migrations and types.

Context writes are composed per transaction in `writes.py`.

Every user value is a parameter (`$name`); only the filter clause and the ORDER BY of
`find_contexts` / `count_contexts` are composed, from `graph.cypher_filters`, which emits
fixed property names and parameters only. Fixed statement texts let Neo4j cache their plans.

Lookups go through the uniqueness-constraint indexes of migration 0001:
- id (unique across workspaces; lookups still filter on workspace) and (workspace, path) on :Context,
- (workspace, context_id, number) on :Version,
- (workspace, name) on :ContextType,
plus the range index (workspace, parent_id, name) on :Context for children. A predicate
`x IS NOT NULL` on the trailing properties of a composite index lets Neo4j seek on its
prefix alone (all contexts of a workspace, all versions of a context). ORDER BY repeats the
constant leading properties (`c.workspace, c.parent_id, c.name`) so that the index provides
the order and a page reads only `limit` entries past its seek position (`graph.keyset`) instead of
sorting every match.

Compare-and-set writes of context types lock the node first (`SET n._lock = true` ...
`REMOVE n._lock`, the pattern of the Neo4j manual, "Concurrent data access").
"""

from __future__ import annotations

from .. import keyset
from ..cypher_filters import order_clause

# -- migrations -----------------------------------------------------------------------------------

APPLIED_MIGRATIONS = """
MATCH (m:Migration)
RETURN m.id AS id
ORDER BY m.seq, m.applied_at, m.id
"""

# CREATE, not MERGE: a concurrent migrator that got here first makes this one fail on the
# uniqueness constraint of Migration.id (created by migration 0001).
RECORD_MIGRATION = """
OPTIONAL MATCH (m:Migration)
WITH count(m) AS applied
CREATE (:Migration {id: $id, seq: applied + 1, applied_at: $now})
"""

AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"

# -- context reads ----------------------------------------------------------------------------------

GET_BY_IDS = """
UNWIND $ids AS id
MATCH (c:Context {workspace: $workspace, id: id})
RETURN properties(c) AS props
"""

GET_BY_PATHS = """
UNWIND $paths AS path
MATCH (c:Context {workspace: $workspace, path: path})
RETURN properties(c) AS props
"""

# {seek} (here and below) is `graph.cypher_filters.seek_clause`: `true` on a first page, else
# the keyset condition past `Page.after` on the same keys as the ORDER BY.
LIST_CHILDREN = """
UNWIND $parent_ids AS parent_id
CALL (parent_id) {
  MATCH (c:Context {workspace: $workspace, parent_id: parent_id})
  WHERE c.name IS NOT NULL AND {seek}
  WITH c ORDER BY c.workspace, c.parent_id, """ + order_clause("c", keyset.CHILDREN) + """
  LIMIT $limit
  RETURN collect(properties(c)) AS children
}
RETURN parent_id, children
"""

# The degree of the parent (CHILD_OF is only ever Context -> Context): O(1) per parent.
COUNT_CHILDREN = """
UNWIND $parent_ids AS parent_id
OPTIONAL MATCH (p:Context {workspace: $workspace, id: parent_id})
RETURN parent_id, CASE WHEN p IS NULL THEN 0 ELSE COUNT { (p)<-[:CHILD_OF]-() } END AS children
"""

FIND_CONTEXTS = """
MATCH (c:Context)
WHERE c.workspace = $workspace AND c.path IS NOT NULL AND {where} AND {seek}
WITH c ORDER BY c.workspace, {order}
LIMIT $limit
RETURN properties(c) AS props
"""

# A page and the total of the same filter, in one statement (a connection selecting totalCount).
# {props}: `tree_read.projection("c", ...)`, every property or only those the selection reads.
FIND_AND_COUNT_CONTEXTS = """
CALL () {
  MATCH (c:Context)
  WHERE c.workspace = $workspace AND c.path IS NOT NULL AND {where}
  RETURN count(c) AS total
}
CALL () {
  MATCH (c:Context)
  WHERE c.workspace = $workspace AND c.path IS NOT NULL AND {where} AND {seek}
  WITH c ORDER BY c.workspace, {order}
  LIMIT $limit
  RETURN collect({props}) AS page
}
RETURN total, page
"""

COUNT_CONTEXTS = """
MATCH (c:Context)
WHERE c.workspace = $workspace AND c.path IS NOT NULL AND {where}
RETURN count(c) AS n
"""

# -- versions ---------------------------------------------------------------------------------------------

LIST_VERSIONS = """
MATCH (v:Version {workspace: $workspace, context_id: $id})
WHERE v.number IS NOT NULL AND {seek}
WITH v ORDER BY v.workspace DESC, v.context_id DESC, """ + order_clause("v", keyset.VERSIONS) + """
LIMIT $limit
RETURN properties(v) AS props
"""

COUNT_VERSIONS = """
MATCH (v:Version {workspace: $workspace, context_id: $id})
WHERE v.number IS NOT NULL
RETURN count(v) AS n
"""

GET_VERSION = """
MATCH (v:Version {workspace: $workspace, context_id: $id, number: $number})
RETURN properties(v) AS props
"""

GET_VERSION_AT = """
MATCH (v:Version {workspace: $workspace, context_id: $id})
WHERE v.number IS NOT NULL AND v.created_at <= $at
WITH v ORDER BY v.created_at DESC, v.number DESC
LIMIT 1
RETURN properties(v) AS props
"""

VERSIONS_OF = """
UNWIND $ids AS id
CALL (id) {
  MATCH (v:Version {workspace: $workspace, context_id: id})
  WHERE v.number IS NOT NULL
  WITH v ORDER BY v.workspace, v.context_id, v.number
  RETURN collect(properties(v)) AS versions
}
RETURN id, versions
"""

# -- context types ------------------------------------------------------------------------------------------

GET_TYPE = """
MATCH (t:ContextType {workspace: $workspace, name: $name})
RETURN properties(t) AS props
"""

LIST_TYPES = """
MATCH (t:ContextType)
WHERE t.workspace = $workspace AND t.name IS NOT NULL
WITH t ORDER BY t.name
RETURN properties(t) AS props
"""
