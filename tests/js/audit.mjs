// Runs the graphql-http server audit suite (GraphQL over HTTP spec) against a URL; prints JSON results.
// usage: node audit.mjs http://127.0.0.1:8000/graphql
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const results = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.status === 'ok' ? null : result.reason });
}
process.stdout.write(JSON.stringify(results, null, 1));
