// One lock node per workspace orders the tree-shape changes (create, move, delete, import)
// of that workspace (graph/neo4j/writes.py). MERGE is only race-free under a uniqueness constraint.
CREATE CONSTRAINT tree_lock_workspace IF NOT EXISTS
FOR (l:TreeLock) REQUIRE l.workspace IS UNIQUE;
