// Subscribe with a real npm GraphQL client and print each result as one JSON line.
// usage: node subscribe.mjs ws|sse <url> <count> <query> [variables-json] [connection-params-json]
// Prints {"ready":true} once connected, then every result; exits 0 after <count> results.
import { createClient as createWsClient } from "graphql-ws";
import { createClient as createSseClient } from "graphql-sse";
import WebSocket from "ws";

const [transport, url, count, query, variables = "{}", connectionParams = "{}"] = process.argv.slice(2);
const wanted = Number(count);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const fail = (error) => { print({ failed: String(error?.message ?? JSON.stringify(error)) }); process.exit(1); };
setTimeout(() => fail(new Error("timed out waiting for results")), 30_000).unref();

const client = transport === "ws"
  ? createWsClient({ url, webSocketImpl: WebSocket, connectionParams: JSON.parse(connectionParams), retryAttempts: 0,
      on: { connected: () => print({ ready: true }) } })
  : createSseClient({ url, retryAttempts: 0 });
if (transport === "sse") print({ ready: true });

let received = 0;
const stop = client.subscribe({ query, variables: JSON.parse(variables) }, {
  next: (result) => {
    print(result);
    if (++received === wanted) { stop(); client.dispose(); process.exit(0); }
  },
  error: fail,
  complete: () => { print({ complete: true }); process.exit(received === wanted ? 0 : 1); },
});
