"""The README's GraphiQL tour, run verbatim: every operation succeeds except the last, which shows a validation error."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_operations() -> list[str]:
    # Only the tour's own section: other README sections document features with their own examples.
    tour = README.read_text().split("\n## A tour in GraphiQL\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```graphql\n(.*?)```", tour, flags=re.S)


async def test_the_readme_tour_runs_as_written(api):
    operations = tour_operations()
    assert len(operations) >= 10
    for operation in operations[:-1]:
        await api.data(operation)
    failure = await api.error(operations[-1])
    assert failure["extensions"]["code"] == "VALIDATION_FAILED"
    assert "$.stage" in [v["path"] for v in failure["extensions"]["violations"]]
    final = await api.data('{ context(path: "/acme/projects/apollo") { version content effective { data } } }')
    assert final["context"]["version"] == 4 and final["context"]["content"] == "First draft."
    assert final["context"]["effective"]["data"] == {
        "region": "eu", "db": {"host": "db.acme.internal", "port": 6432}, "owners": ["bo"]}
