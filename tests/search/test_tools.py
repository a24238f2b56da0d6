"""`searchTools`: tools ranked by their descriptions, only readable ones, live from the graph."""

from __future__ import annotations

from contextql.graph.events import InProcessBus
from tests.api.conftest import api  # noqa: F401  (an app without search)
from contextql.resolvers.principal import Principal
from contextql.resolvers.request import RequestContext
from contextql.schema.root import build_schema

REGISTER = """
mutation($name: String!, $description: String!) {
  registerTool(name: $name, version: "1.0.0", description: $description, url: "http://127.0.0.1:9/x",
               inputSchema: {type: "object"}, outputSchema: {type: "object"}) { name }
}"""
SEARCH_TOOLS = """
query($q: String!, $mode: SearchMode, $limit: Int, $retired: Boolean) {
  searchTools(query: $q, mode: $mode, limit: $limit, includeRetired: $retired) { score tool { name version retired } }
}"""
TOOLS = {
    "translate": "Translates text from one human language into another, e.g. English to French.",
    "weather": "Returns the current weather forecast, temperature and rain for a city.",
    "invoice_pdf": "Generates a PDF invoice for a customer order with line items and VAT.",
    "resize_image": "Resizes and crops a picture (PNG or JPEG) to the given width and height.",
}


async def names(api, q: str, **kw) -> list[str]:
    return [h["tool"]["name"] for h in (await api.data(SEARCH_TOOLS, q=q, **kw))["searchTools"]]


async def test_search_tools_ranks_by_description_and_respects_permissions_and_retirement(search_api, search, store, workspace):
    for name, description in TOOLS.items():
        await search_api.data(REGISTER, name=name, description=description)
    assert (await names(search_api, "will it rain in Paris tomorrow?"))[0] == "weather"
    assert (await names(search_api, "make a picture smaller", mode="DENSE"))[0] == "resize_image"
    assert (await names(search_api, "convert this sentence to Spanish"))[0] == "translate"
    assert await names(search_api, "VAT", mode="KEYWORD") == ["invoice_pdf"]
    assert (await names(search_api, "pull a value out of a context with JMESPath"))[0] == "builtin.extract"
    hits = (await search_api.data(SEARCH_TOOLS, q="bill a customer", limit=2))["searchTools"]
    assert len(hits) == 2 and hits[0]["tool"] == {"name": "invoice_pdf", "version": "1.0.0", "retired": False}
    assert hits[0]["score"] >= hits[1]["score"] > 0

    # Read grants are checked per tool: a stranger never sees `weather`, a reader does.
    await search_api.data('mutation { setToolPermissions(name: "weather", permissions: {read: ["principal:rita"], '
                          'write: ["principal:anonymous"], execute: ["*"]}) { name } }')
    schema = build_schema()

    async def as_(principal_id: str) -> list[str]:
        principal = Principal(principal_id, roles=frozenset({"agent"}), workspaces=frozenset({workspace}))
        ctx = RequestContext(store=store, principal=principal, workspace=workspace, events=InProcessBus(),
                             search=search.index)
        result = await schema.execute(SEARCH_TOOLS, variable_values={"q": "weather forecast for a city"},
                                      context_value=ctx)
        assert result.errors is None, result.errors
        return [h["tool"]["name"] for h in result.data["searchTools"]]

    assert "weather" not in await as_("eve")
    assert (await as_("rita"))[0] == "weather"

    # Retired tools are excluded (the graph is read for every search); `includeRetired` shows them, flagged.
    await search_api.data('mutation { retireTool(name: "translate") { retired } }')
    assert "translate" not in await names(search_api, "translate text into French")
    hits = (await search_api.data(SEARCH_TOOLS, q="translate text into French", retired=True))["searchTools"]
    assert hits[0]["tool"] == {"name": "translate", "version": "1.0.0", "retired": True}


async def test_search_tools_errors(search_api, search):
    assert (await search_api.error(SEARCH_TOOLS, q=" "))["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await search_api.error(SEARCH_TOOLS, q="x", limit=0))["extensions"]["code"] == "BAD_USER_INPUT"


async def test_search_tools_needs_search(api):
    error = await api.error(SEARCH_TOOLS, q="anything")
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
