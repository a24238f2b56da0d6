"""The Cypher statements of the Neo4j backend: one statement per contract operation.

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

Compare-and-set writes lock the node first (`SET n._lock = true` ... `REMOVE n._lock`, the
pattern of the Neo4j manual, "Concurrent data access") so that the version they compare is
read under the write lock: two racing writers cannot both see the expected version.
"""

from __future__ import annotations

from .. import keyset
from ..cypher_filters import order_clause
from .outbox import enqueue_clause

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

COUNT_CONTEXTS = """
MATCH (c:Context)
WHERE c.workspace = $workspace AND c.path IS NOT NULL AND {where}
RETURN count(c) AS n
"""

# Which of the given ids/paths are taken (after a uniqueness violation, to name them).
TAKEN = """
UNWIND $rows AS row
OPTIONAL MATCH (by_path:Context {workspace: row.workspace, path: row.path})
OPTIONAL MATCH (by_id:Context {id: row.id})
WITH row, by_id WHERE by_path IS NOT NULL OR by_id IS NOT NULL
RETURN row.path AS path, row.id AS id, by_id IS NOT NULL AS id_taken
"""

TAKEN_TYPES = """
UNWIND $rows AS row
MATCH (t:ContextType {workspace: row.workspace, name: row.name})
RETURN DISTINCT row.name AS name
"""

# -- context writes -----------------------------------------------------------------------------------

# Contexts, then CHILD_OF links (parents found in the store or in the batch), then versions,
# then types (import only). Returns the parent ids that were not found and how many versions
# found their context; the caller rolls back (raises inside the transaction) if either is off.
INSERT_RECORDS = """
CALL () {
  UNWIND $contexts AS row
  CREATE (c:Context)
  SET c = row
}
CALL () {
  UNWIND $contexts AS row
  WITH row WHERE row.parent_id IS NOT NULL
  MATCH (c:Context {workspace: row.workspace, id: row.id})
  OPTIONAL MATCH (p:Context {workspace: row.workspace, id: row.parent_id})
  FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | CREATE (c)-[:CHILD_OF]->(p))
  RETURN collect(CASE WHEN p IS NULL THEN row.parent_id END) AS missing_parents
}
CALL () {
  UNWIND $versions AS row
  MATCH (c:Context {workspace: row.workspace, id: row.context_id})
  CREATE (c)-[:HAS_VERSION]->(v:Version)
  SET v = row
  RETURN count(v) AS linked_versions
}
CALL () {
  UNWIND $types AS row
  CREATE (t:ContextType)
  SET t = row
}
CALL () {
  UNWIND $contexts AS row
  MATCH (c:Context {workspace: row.workspace, id: row.id})
  """ + enqueue_clause("c", "1") + """
}
RETURN missing_parents, linked_versions
"""

UPDATE_CONTEXT = """
OPTIONAL MATCH (c:Context {workspace: $workspace, id: $id})
SET c._lock = true
WITH c, c.version AS stored
WITH c, stored, c IS NOT NULL AND stored = $expected AS ok
FOREACH (_ IN CASE WHEN ok THEN [1] ELSE [] END |
  SET c += $props
  CREATE (c)-[:HAS_VERSION]->(v:Version)
  SET v = $version
  """ + enqueue_clause("c", "$version.number") + """
)
REMOVE c._lock
RETURN c IS NOT NULL AS found, stored, ok
"""

# Status first (missing / stale / parent_missing / cycle / taken / ok); the subquery only
# writes when it is 'ok', and its aggregate always yields one row.
MOVE_CONTEXT = """
OPTIONAL MATCH (c:Context {workspace: $workspace, id: $id})
SET c._lock = true
WITH c, c.version AS stored, c.path AS old, c.depth AS old_depth
OPTIONAL MATCH (np:Context {workspace: $workspace, id: $parent_id})
OPTIONAL MATCH (taken:Context {workspace: $workspace, path: $new_path})
WITH c, stored, old, old_depth, np,
  CASE
    WHEN c IS NULL THEN 'missing'
    WHEN $parent_id IS NOT NULL AND np IS NULL THEN 'parent_missing'
    WHEN stored <> $expected THEN 'stale'
    WHEN np = c OR np.path STARTS WITH old + '/' OR $new_path STARTS WITH old + '/' THEN 'cycle'
    WHEN taken IS NOT NULL AND taken <> c THEN 'taken'
    ELSE 'ok'
  END AS status
CALL (c, np, old, old_depth, status) {
  WITH c, np, old, old_depth WHERE status = 'ok'
  CALL (c) {
    MATCH (c)-[link:CHILD_OF]->()
    DELETE link
  }
  FOREACH (_ IN CASE WHEN np IS NULL THEN [] ELSE [1] END | CREATE (c)-[:CHILD_OF]->(np))
  CREATE (c)-[:HAS_VERSION]->(v:Version)
  SET v = $version,
      c.path = $new_path, c.name = $name, c.depth = $depth, c.parent_id = $parent_id,
      c.version = $version.number, c.updated_at = $version.created_at, c.updated_by = $version.author
  WITH c, old, old_depth
  OPTIONAL MATCH (d:Context)
  WHERE d.workspace = $workspace AND d.path STARTS WITH old + '/'
  SET d.path = $new_path + substring(d.path, size(old)), d.depth = d.depth + $depth - old_depth
  WITH collect(DISTINCT c) AS heads, collect(d) AS descendants
  FOREACH (x IN heads | """ + enqueue_clause("x", "$version.number", "head_task") + """)
  FOREACH (x IN descendants | """ + enqueue_clause("x", "$task.no_history", "child_task") + """)
  RETURN size(heads) + size(descendants) AS moved
}
REMOVE c._lock
RETURN status, stored, moved
"""

DELETE_CONTEXT = """
OPTIONAL MATCH (c:Context {workspace: $workspace, id: $id})
WITH c, c.path AS path, CASE WHEN c IS NULL THEN 0 ELSE COUNT { (c)<-[:CHILD_OF]-() } END AS children
CALL (c, children) {
  WITH c WHERE c IS NOT NULL AND ($recursive OR children = 0)
  CALL (c) {
    RETURN c AS doomed
    UNION
    MATCH (doomed:Context)
    WHERE $recursive AND doomed.workspace = $workspace AND doomed.path STARTS WITH c.path + '/'
    RETURN doomed
  }
  CALL (doomed) {
    MATCH (doomed)-[:HAS_VERSION]->(v:Version)
    DETACH DELETE v
  }
  """ + enqueue_clause("doomed", "$task.no_history") + """
  DETACH DELETE doomed
  RETURN count(doomed) AS removed
}
RETURN path IS NOT NULL AS found, path, children, removed
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

CREATE_TYPE = """
CREATE (t:ContextType)
SET t = $props
"""

REPLACE_TYPE = """
OPTIONAL MATCH (t:ContextType {workspace: $workspace, name: $name})
SET t._lock = true
WITH t, t.version AS stored
WITH t, stored, t IS NOT NULL AND stored = $expected AS ok
FOREACH (_ IN CASE WHEN ok THEN [1] ELSE [] END | SET t = $props)
REMOVE t._lock
RETURN t IS NOT NULL AS found, stored, ok
"""

# -- workspace ------------------------------------------------------------------------------------------------

DELETE_WORKSPACE = """
CALL () {
  MATCH (c:Context)
  WHERE c.workspace = $workspace AND c.path IS NOT NULL
  """ + enqueue_clause("c", "$task.no_history") + """
}
CALL () {
  MATCH (v:Version)
  WHERE v.workspace = $workspace AND v.context_id IS NOT NULL AND v.number IS NOT NULL
  DETACH DELETE v
}
CALL () {
  MATCH (t:ContextType)
  WHERE t.workspace = $workspace AND t.name IS NOT NULL
  DETACH DELETE t
}
CALL () {
  MATCH (c:Context)
  WHERE c.workspace = $workspace AND c.path IS NOT NULL
  DETACH DELETE c
  RETURN count(c) AS removed
}
RETURN removed
"""
