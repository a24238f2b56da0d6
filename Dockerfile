# ContextQL API server image (production: talks to Neo4j, Qdrant and Redis over the network).
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY graph ./graph
COPY schema ./schema
COPY resolvers ./resolvers
COPY migrations ./migrations
COPY server ./server
COPY models ./models
RUN pip install . && useradd --create-home --uid 10001 contextql && mkdir -p /data && chown contextql /data

USER contextql
ENV CONTEXTQL_HOST=0.0.0.0 CONTEXTQL_PORT=8000 CONTEXTQL_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["contextql", "serve"]
