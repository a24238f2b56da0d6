"""The peer benchmark: ContextQL against @neo4j/graphql 7 on Apollo Server 4 (see bench/README.md)."""
