"""Input and page-size limits the domain enforces (values come from settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    page_size_default: int = 20
    page_size_max: int = 100
    max_content_bytes: int = 1_048_576
    max_data_bytes: int = 262_144
    max_title_length: int = 512
    max_tags: int = 64
    max_tag_length: int = 64
    max_bulk: int = 1_000
    max_descendants: int = 1_000
    max_schema_bytes: int = 65_536
    api_key_overlap_seconds: int = 3_600
    max_json_depth: int = 64
    # Comparisons in one `where` (AND, OR and NOT nest them no deeper than `max_json_depth`). Engines plan a
    # filter of many ORs in more than linear time: on this project's 2-core host, 1,000 equality ORs took Neo4j past a
    # 10 s timeout and LadybugDB 0.5 s, 8,000 took LadybugDB 60 s, and 20,000 overflowed its stack (a crash of
    # the embedded server). A list of values belongs in `in`, which is one condition.
    max_filter_comparisons: int = 100
    # Not a size, but domain input policy all the same: where a context type's `$ref` may point.
    schema_ref_bases: tuple[str, ...] = ()
