// The peer of the request-path benchmark: @neo4j/graphql 7 on @apollo/server 4, over the graph
// ContextQL writes (`:Context` nodes, `(child)-[:CHILD_OF]->(parent)`; see graph/neo4j/convert.py).
//
//   NEO4J_URI=bolt://127.0.0.1:7687 PORT=4000 node bench/peer/server.mjs
//
// Served the way Apollo's startStandaloneServer serves (express + cors + JSON body parser, which is
// what it is built on), plus two routes for the benchmark: GET /healthz and GET /debug/stats, which
// answers {"queries": N} like ContextQL's CONTEXTQL_DEBUG_STATS endpoint. N counts Cypher
// statements sent to Neo4j: every Transaction.run (managed transactions, which is what
// @neo4j/graphql uses) and Session.run (auto-commit), counted in the driver itself, so it is exact.

import http from "node:http";

import { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@apollo/server/express4";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { Neo4jGraphQL } from "@neo4j/graphql";
import cors from "cors";
import express from "express";
import neo4j from "neo4j-driver";

let statements = 0;
for (const cls of [neo4j.Transaction, neo4j.Session]) {
  const run = cls.prototype.run;
  cls.prototype.run = function countedRun(...args) {
    statements += 1;
    return run.apply(this, args);
  };
}

// Property names are ContextQL's (snake_case); @alias maps the GraphQL names onto them. `data` is
// the JSON document ContextQL stores as a string (Neo4j properties cannot hold maps), and the
// timestamps are microseconds since the epoch, beyond GraphQL's 32-bit Int, hence BigInt.
const typeDefs = /* GraphQL */ `
  type Context @node(labels: ["Context"]) {
    id: ID!
    workspace: String!
    path: String!
    name: String!
    parentId: String @alias(property: "parent_id")
    depth: Int!
    kind: String!
    title: String!
    content: String!
    data: String
    tags: [String!]!
    inherit: Boolean!
    version: Int!
    createdAt: BigInt! @alias(property: "created_at")
    updatedAt: BigInt! @alias(property: "updated_at")
    createdBy: String @alias(property: "created_by")
    updatedBy: String @alias(property: "updated_by")
    parent: [Context!]! @relationship(type: "CHILD_OF", direction: OUT)
    children: [Context!]! @relationship(type: "CHILD_OF", direction: IN)
  }
`;

const uri = process.env.NEO4J_URI ?? "bolt://127.0.0.1:7687";
const port = Number(process.env.PORT ?? 4000);
const host = process.env.HOST ?? "127.0.0.1";
const auth = process.env.NEO4J_USER
  ? neo4j.auth.basic(process.env.NEO4J_USER, process.env.NEO4J_PASSWORD ?? "")
  : undefined;

const driver = neo4j.driver(uri, auth);
const schema = await new Neo4jGraphQL({ typeDefs, driver }).getSchema();

const app = express();
const httpServer = http.createServer(app);
const server = new ApolloServer({ schema, plugins: [ApolloServerPluginDrainHttpServer({ httpServer })] });
await server.start();

app.get("/healthz", (_req, res) => res.json({ status: "ok" }));
app.get("/debug/stats", (_req, res) => res.json({ backend: "neo4j-graphql", queries: statements }));
app.use("/graphql", cors(), express.json({ limit: "50mb" }), expressMiddleware(server));

await new Promise((resolve) => httpServer.listen({ port, host }, resolve));
console.log(`peer ready at http://${host}:${port}/graphql`);

async function shutdown() {
  await server.stop();
  await driver.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
