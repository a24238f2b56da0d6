"""Every ```graphql block of README.md, run in document order against one fresh server, as a reader would paste them.

- One server per backend: the in-process app over the real store (the `api` fixture), in a fresh workspace,
  as the local anonymous principal, who is an admin of every workspace (server/auth), so admin-only blocks
  (`apiKeys`, `auditLog`, `deleteWorkspace`) need no other credential.
- A block must answer without errors, unless the README marks it with `<!-- fails: CODE -->` right before it
  (after a visible sentence saying so): then its first error must carry `extensions.code: CODE`. A tool run
  answers its failures as data (`status: FAILED`), so any run that did not succeed fails the test too.
- The tool examples call `http://localhost:9000/summarise`. The test starts the README's own stand-in (the
  ```bash block that ends in `serve_forever()`), verbatim except for the port: a free one, since 9000 may be
  taken on a shared machine, substituted in the tool's URL as well.
- Subscriptions are validated against the schema only: they need a WebSocket or SSE stream, not a POST
  (tests/live/ runs them over the real transports).
- Blocks whose root fields need semantic search (`search`, `similar`, `searchTools`) are validated only: the
  embedder and local Qdrant are tests/search/'s fixtures, and tests/search/ covers their answers.
- `deleteWorkspace` blocks run last, whatever their place, so that they do not remove data later blocks use;
  their `confirm: "default"` names the test's workspace.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType, parse, validate

from contextql.schema.root import build_schema

README = Path(__file__).resolve().parents[2] / "README.md"
README_TOOL_PORT = 9000
SEARCH_FIELDS = {"search", "similar", "searchTools"}
BLOCK = re.compile(r"(?:<!--\s*fails:\s*(?P<code>[A-Z_]+)\s*-->\s*\n)?```graphql\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    line: int
    document: str
    fails_with: str | None

    def root_fields(self) -> tuple[OperationType, set[str]]:
        operation = next(d for d in parse(self.document).definitions if isinstance(d, OperationDefinitionNode))
        fields = {s.name.value for s in operation.selection_set.selections if hasattr(s, "name")}
        return operation.operation, fields


def readme_blocks(text: str) -> list[Block]:
    return [Block(text.count("\n", 0, m.start("body")) + 1, m["body"], m["code"]) for m in BLOCK.finditer(text)]


def tool_server_source(text: str) -> str:
    """The Python of the README's stand-in tool (`python3 -c '...'` in a ```bash block)."""
    match = re.search(r"```bash\npython3 -c '\n(.*?serve_forever\(\))'\n```", text, flags=re.S)
    assert match, "README.md lost its stand-in tool server snippet"
    return match[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def readme_tool_port() -> Iterator[int]:
    source = tool_server_source(README.read_text())
    assert str(README_TOOL_PORT) in source
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", source.replace(str(README_TOOL_PORT), str(port))],
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the README's tool server did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=5)


def unsuccessful_runs(value: Any) -> list[Any]:
    """Tool executions in an answer that did not succeed (they are data, not GraphQL errors)."""
    if isinstance(value, list):
        return [bad for item in value for bad in unsuccessful_runs(item)]
    if not isinstance(value, dict):
        return []
    own = [value] if value.get("status") in ("RUNNING", "FAILED", "TIMED_OUT") else []
    return own + [bad for item in value.values() for bad in unsuccessful_runs(item)]


def test_the_readme_has_its_examples_and_markers():
    blocks = readme_blocks(README.read_text())
    assert len(blocks) >= 15
    assert [b.fails_with for b in blocks if b.fails_with] == ["VALIDATION_FAILED"]
    # A marker must sit right before a ```graphql block, or it marks nothing.
    assert README.read_text().count("<!-- fails:") == len([b for b in blocks if b.fails_with])


async def test_every_readme_graphql_block_runs_in_order(api, workspace, readme_tool_port):
    schema = build_schema()
    blocks = readme_blocks(README.read_text())
    # Stable sort: deleteWorkspace blocks go last, everything else keeps the README's order.
    blocks.sort(key=lambda b: "deleteWorkspace" in b.root_fields()[1])
    ran = 0
    for block in blocks:
        where = f"README.md line {block.line}"
        document = block.document.replace(f"localhost:{README_TOOL_PORT}", f"localhost:{readme_tool_port}")
        document = document.replace('confirm: "default"', f'confirm: "{workspace}"')
        kind, fields = block.root_fields()
        if kind is OperationType.SUBSCRIPTION or fields & SEARCH_FIELDS:
            assert block.fails_with is None, f"{where}: a validate-only block cannot be marked as failing"
            errors = validate(schema._schema, parse(document))
            assert not errors, f"{where}: {errors}"
            continue
        body = await api.run(document)
        ran += 1
        if block.fails_with:
            assert body.get("errors"), f"{where}: the README says this fails, but it answered {body}"
            assert body["errors"][0]["extensions"]["code"] == block.fails_with, f"{where}: {body['errors']}"
            continue
        assert not body.get("errors"), f"{where}: {body['errors']}"
        assert not unsuccessful_runs(body["data"]), f"{where}: {body['data']}"
    assert ran >= 14
    # What the examples left behind: the summary the stand-in wrote, and the edge to the renamed project.
    after = await api.data("""{
      summary: context(path: "/acme/summary") { data }
      apollo: context(path: "/acme/projects/apollo") { related(direction: OUT) { type } }
    }""")
    assert after["summary"]["data"] == {"summary": "..."}
    assert after["apollo"]["related"] == [{"type": "PART_OF"}]
