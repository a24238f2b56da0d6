// Search-index outbox (graph/outbox.py): one pending refresh per context, MERGEd in the same
// transaction as the context change; the index worker claims, applies and removes them.
CREATE CONSTRAINT index_task_context_id IF NOT EXISTS
FOR (t:IndexTask) REQUIRE t.context_id IS UNIQUE;

// Due tasks, oldest first (claim_index_tasks).
CREATE INDEX index_task_not_before IF NOT EXISTS
FOR (t:IndexTask) ON (t.not_before);
