// Initial schema of the embedded LadybugDB backend.
// The primary key is the engine's only index and only uniqueness constraint, so
// every lookup the store needs is by primary key or along a relationship.
// (The Migration table that records applied migrations is created by the store.)

// Current state of each context. Property names are the filter field names
// (graph/filters.py FILTER_FIELDS); `data` is JSON text, `name`/`depth` derive from `path`.
CREATE NODE TABLE Context(
    id STRING PRIMARY KEY,
    workspace STRING,
    path STRING,
    name STRING,
    parent_id STRING,
    depth INT64,
    kind STRING,
    title STRING,
    content STRING,
    data STRING,
    tags STRING[],
    inherit BOOLEAN,
    version INT64,
    created_at INT64,
    updated_at INT64,
    created_by STRING,
    updated_by STRING
);

// Path index and per-workspace path uniqueness: key = workspace + "\0" + path.
CREATE NODE TABLE ContextPath(
    key STRING PRIMARY KEY,
    workspace STRING,
    context_id STRING
);

// The tree: child -> parent.
CREATE REL TABLE CHILD_OF(FROM Context TO Context);

// Immutable snapshots; id = context_id + ":" + number.
CREATE NODE TABLE Version(
    id STRING PRIMARY KEY,
    context_id STRING,
    workspace STRING,
    number INT64,
    operation STRING,
    path STRING,
    kind STRING,
    title STRING,
    content STRING,
    data STRING,
    tags STRING[],
    inherit BOOLEAN,
    author STRING,
    created_at INT64,
    changed STRING[]
);

CREATE REL TABLE HAS_VERSION(FROM Context TO Version);

// JSON Schemas by kind; key = workspace + "\0" + name, `schema` is JSON text.
CREATE NODE TABLE ContextType(
    key STRING PRIMARY KEY,
    workspace STRING,
    name STRING,
    schema STRING,
    version INT64,
    created_at INT64,
    updated_at INT64,
    updated_by STRING
);
