// Tools, executions, relationships and provenance (graph/knowledge, graph/ladybug/knowledge.py).
// JSON documents are STRING; keys join workspace and name with "\0" (the primary key is the
// only index, so every lookup goes through a key or along a relationship).

// A tool as a whole; `id` is the tool name (the id relationships point at), `latest` the highest version.
CREATE NODE TABLE Tool(
    key STRING PRIMARY KEY,
    id STRING,
    workspace STRING,
    name STRING,
    latest STRING,
    latest_key STRING,
    retired BOOLEAN,
    permissions STRING,
    created_at INT64,
    updated_at INT64,
    created_by STRING
);

// One published version; key = workspace + "\0" + name + "\0" + version.
CREATE NODE TABLE ToolVersion(
    key STRING PRIMARY KEY,
    workspace STRING,
    name STRING,
    version STRING,
    sort_key STRING,
    description STRING,
    kind STRING,
    input_schema STRING,
    output_schema STRING,
    config STRING,
    tags STRING[],
    deprecated BOOLEAN,
    created_at INT64,
    created_by STRING
);

CREATE REL TABLE HAS_TOOL_VERSION(FROM Tool TO ToolVersion);

// A principal as a node (relationship targets); key = workspace + "\0" + id.
CREATE NODE TABLE Agent(
    key STRING PRIMARY KEY,
    id STRING,
    workspace STRING,
    created_at INT64
);

// Typed edges from a context; `key` = target kind + ":" + target id + "\0" + type identifies an edge.
CREATE REL TABLE RELATED(
    FROM Context TO Context,
    FROM Context TO Tool,
    FROM Context TO Agent,
    key STRING,
    type STRING,
    properties STRING,
    weight DOUBLE,
    created_at INT64,
    created_by STRING
);

// One run of a tool; input/output are JSON text.
CREATE NODE TABLE Execution(
    id STRING PRIMARY KEY,
    workspace STRING,
    tool STRING,
    tool_version STRING,
    status STRING,
    input STRING,
    output STRING,
    error STRING,
    principal STRING,
    started_at INT64,
    finished_at INT64,
    duration_ms INT64,
    context_id STRING,
    output_context_id STRING
);

// Lineage lives on its own nodes (one per context id, never deleted with the context), so
// that what was derived from a deleted context still names its source.
CREATE NODE TABLE Origin(
    id STRING PRIMARY KEY,
    workspace STRING,
    path STRING
);

CREATE REL TABLE DERIVED_FROM(
    FROM Origin TO Origin,
    version INT64,
    source_version INT64,
    execution_id STRING,
    created_at INT64
);

CREATE REL TABLE PRODUCED_BY(FROM Origin TO Execution, version INT64);
