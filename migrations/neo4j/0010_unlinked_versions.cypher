// Versions are found by their (workspace, context_id, number) key alone: the HAS_VERSION link from
// a context to each of its versions is no longer written (graph/neo4j/writes.py INSERT_VERSIONS;
// bench/results/profile-2026-12-02-neo4j-write.md). The links of existing stores go, in batches, so
// a store with millions of versions never holds them all in one transaction's state. A batch that
// fails (another instance deleting the same links as it starts) is skipped: a link left over is
// harmless, nothing reads it and deleting its context detaches it.
MATCH ()-[link:HAS_VERSION]->()
CALL (link) { DELETE link } IN TRANSACTIONS OF 10000 ROWS ON ERROR CONTINUE;
