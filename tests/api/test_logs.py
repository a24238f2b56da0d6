"""Structured logs in process: request ids, the access line, and an unexpected error logged once with its id."""

from __future__ import annotations

import json
import logging
import os
import re

import httpx
import pytest

from contextql.resolvers import contexts as ops
from contextql.server.logs import JsonFormatter, RequestFields, TextFormatter
from contextql.server import request_id
from contextql.server.request_id import RequestLog

from .conftest import settings_for
from contextql.server.app import create_app


@pytest.fixture
def logs(caplog):
    """Every record as the server's JSON formatter writes it (the request filter runs where it is logged)."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestFields())

    def lines() -> list[dict]:
        return [json.loads(JsonFormatter().format(record)) for record in caplog.records]

    return lines


async def test_an_unexpected_error_is_logged_once_with_the_request_id_the_client_gets(store, workspace, logs,
                                                                                     monkeypatch):
    async def bug(ctx, context_id):
        raise RuntimeError("a bug deep in a resolver")

    monkeypatch.setattr(ops, "by_id", bug)  # a bug, not a fake store: the store is real
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/graphql", json={"query": 'query Boom { context(id: "x") { id } }'},
                                     headers={"X-Request-ID": "req-42.a"})
    assert response.headers["x-request-id"] == "req-42.a"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42.a"}
    assert "bug" not in error["message"]  # internals never reach the client

    lines = logs()
    traced = [line for line in lines if "exception" in line]
    assert len(traced) == 1, lines  # the stack trace, once
    assert traced[0]["request_id"] == "req-42.a" and traced[0]["level"] == "error"
    assert "RuntimeError: a bug deep in a resolver" in traced[0]["exception"]
    [access] = [line for line in lines if line["logger"] == "contextql.access"]
    assert access["request_id"] == "req-42.a"
    assert access["method"] == "POST" and access["path"] == "/graphql" and access["status"] == 200
    assert access["operation"] == "Boom" and access["principal"] == "anonymous"
    assert access["error_code"] == "INTERNAL_SERVER_ERROR" and access["duration_ms"] >= 0
    assert access["timestamp"].endswith("Z") and access["level"] == "info"


async def test_an_insane_request_id_is_replaced(store, workspace, logs):
    app = create_app(settings_for(workspace), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "x" * 500})
        none = await client.get("/healthz")
    for response in (given, none):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])  # a new one
    assert given.headers["x-request-id"] != none.headers["x-request-id"]
    ids = [line["request_id"] for line in logs() if line["logger"] == "contextql.access"]
    assert ids == [given.headers["x-request-id"], none.headers["x-request-id"]]


def test_new_request_ids_are_unique_and_a_forked_worker_makes_its_own():
    assert len({request_id._ids.new() for _ in range(10_000)}) == 10_000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id, then out without pytest's teardown
        os.write(write, request_id._ids.new().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child, parent = os.read(read, 64).decode(), request_id._ids.new()
    os.close(read)
    os.close(write)
    assert re.fullmatch(r"[0-9a-f]{32}", child) and child[:16] != parent[:16]


async def test_an_exception_escaping_the_app_is_logged_once_and_answered_with_its_id(logs):
    async def broken(scope, receive, send):
        raise KeyError("outside GraphQL")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=RequestLog(broken)), base_url="http://test") as client:
        response = await client.get("/anything", headers={"X-Request-ID": "edge-1"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "edge-1"
    assert response.json()["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "edge-1"}
    lines = logs()
    assert [line["request_id"] for line in lines if "exception" in line] == ["edge-1"]
    assert [line["status"] for line in lines if line["logger"] == "contextql.access"] == [500]


def test_the_text_format_names_the_request():
    record = logging.LogRecord("contextql.access", logging.INFO, __file__, 1, "POST /graphql 200", None, None)
    record.request_id, record.status, record.duration_ms = "r1", 200, 1.5
    line = TextFormatter().format(record)
    assert " INFO    contextql.access [r1] POST /graphql 200 " in line and "status=200 duration_ms=1.5" in line
