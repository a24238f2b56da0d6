"""`search` and `similar` through GraphQL: hits with scores, snippets and live contexts; error codes."""

from __future__ import annotations

from tests.api.conftest import api, create  # noqa: F401  (the `api` fixture: an app without search)

SEARCH = """
query($q: String!, $where: SearchWhere, $mode: SearchMode, $limit: Int, $history: Boolean) {
  search(query: $q, where: $where, mode: $mode, limit: $limit, includeHistory: $history) {
    score snippet context { id path version } version { number }
  }
}"""


async def test_search_and_similar_over_graphql(search_api, search):
    keys = await create(search_api, "/sec/keys", parents=True, title="Key rotation", kind="runbook",
                        content="To rotate API keys, issue a new key, deploy it, then revoke the old one.")
    await create(search_api, "/ops/backup", parents=True, title="Backups", content="Backups run nightly at 02:00.")
    await search.drain()
    data = await search_api.data(SEARCH, q="how do we rotate API keys?", limit=2)
    top = data["search"][0]
    assert top["context"] == {"id": keys["id"], "path": "/sec/keys", "version": 1}
    assert "rotate API keys" in top["snippet"] and top["score"] > 0 and top["version"] is None
    data = await search_api.data(SEARCH, q="rotate", mode="KEYWORD", where={"pathPrefix": "/ops"})
    assert data["search"] == []
    data = await search_api.data(SEARCH, q="rotate keys", mode="DENSE", where={"kinds": ["runbook"]})
    assert [h["context"]["path"] for h in data["search"]] == ["/sec/keys"]
    data = await search_api.data(SEARCH, q="rotate keys", mode="KEYWORD", history=True)
    assert data["search"][0]["version"] == {"number": 1}
    similar = await search_api.data("query($id: ID!) { similar(to: $id, limit: 5) { context { path } } }", id=keys["id"])
    assert "/sec/keys" not in [h["context"]["path"] for h in similar["similar"]]


async def test_search_errors_carry_codes(search_api, search):
    assert (await search_api.error(SEARCH, q="  "))["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await search_api.error(SEARCH, q="x", limit=1000))["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await search_api.error(SEARCH, q="x", where={"pathPrefix": "/../x"}))["extensions"]["code"] == "BAD_USER_INPUT"
    error = await search_api.error("query { similar(to: \"00000000-0000-0000-0000-000000000000\") { score } }")
    assert error["extensions"]["code"] == "NOT_FOUND"
    search.engine.down = True
    error = await search_api.error(SEARCH, q="anything")
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and "try again" in error["message"]
    # writes go on while the index is down
    await create(search_api, "/still/writable", parents=True)


async def test_search_off_is_service_unavailable(api):
    error = await api.error(SEARCH, q="anything")
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and "not enabled" in error["message"]
