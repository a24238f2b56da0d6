// ContextQL's GraphiQL: queries and mutations over HTTP, subscriptions over graphql-ws on the same path.
(function () {
  "use strict";

  const DEFAULT_QUERY = `# ContextQL: run this (Ctrl-Enter or ▶) to list contexts. Then try the README's tour, the Explorer on the
# left, or a live feed: subscription { contextChanged(pathPrefix: "/") { ... on ContextChangeEvent { operation path } } }
query FirstContexts {
  contexts(first: 10) {
    totalCount
    edges { node { path kind title version updatedAt } }
  }
}
`;

  // The page is served at the GraphQL endpoint itself, so its own path is the endpoint (behind a prefix too).
  const endpoint = new URL(window.location.pathname, window.location.href);
  const socket = new URL(endpoint);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // The headers typed into GraphiQL's Headers tab also authenticate the WebSocket (its connection_init
  // payload): the client is lazy, so each new connection takes the headers of the operation that opened it.
  let headers = {};
  const wsClient = graphqlWs.createClient({
    url: socket.href,
    lazy: true,
    lazyCloseTimeout: 0,
    connectionParams: () => headers,
  });
  const fetchGraphQL = GraphiQL.createFetcher({ url: endpoint.href, wsClient, enableIncrementalDelivery: false });
  const fetcher = (params, options) => {
    headers = (options && options.headers) || {};
    return fetchGraphQL(params, options);
  };

  const h = React.createElement;
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    h(GraphiQL, {
      fetcher,
      defaultQuery: DEFAULT_QUERY,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultEditorToolsVisibility: true,
    }, h(GraphiQL.Logo, null, "ContextQL")),
  );
})();
