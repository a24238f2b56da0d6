// Search-index outbox (graph/outbox.py): one pending refresh per context, written in the same
// transaction as the context change; the index worker claims, applies and removes them.
CREATE NODE TABLE IndexTask(
    context_id STRING PRIMARY KEY,
    workspace STRING,
    since INT64,
    token STRING,
    enqueued_at INT64,
    not_before INT64,
    claimed_until INT64,
    attempts INT64,
    last_error STRING
);
