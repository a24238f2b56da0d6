"""Name rules for values that become graph identifiers or labels."""

from __future__ import annotations

import re

# Relationship types: upper snake case, like Neo4j relationship types (e.g. DEPENDS_ON).
RELATIONSHIP_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
RELATIONSHIP_TYPE_RULE = "1-64 characters: an upper-case letter, then upper-case letters, digits or '_' (e.g. DEPENDS_ON)"
