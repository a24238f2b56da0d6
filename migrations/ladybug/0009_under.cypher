// Every context linked to each of its ancestors (the transitive closure of CHILD_OF), so that a
// path-prefix read reaches a subtree in one hop from its root instead of a recursive walk
// (graph/ladybug/subtree.py; bench/results/profile-2026-12-02-ladybug-filtered.md). CHILD_OF stays
// the tree; UNDER is derived from it and written in the same transaction (graph/ladybug/writes.py).
CREATE REL TABLE UNDER(FROM Context TO Context);

MATCH (c:Context)-[:CHILD_OF*1..100000]->(a:Context) CREATE (c)-[:UNDER]->(a);
