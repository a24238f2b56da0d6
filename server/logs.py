"""Log lines as JSON objects (one a line) or plain text, each with the request and trace it belongs to.

Uvicorn applies `logging_config()` in every server process (workers included), so its own lines and ours
share one format. Fields of a JSON line: `timestamp` (UTC, ISO 8601), `level`, `logger`, `message`, and when
known `request_id`, `trace_id`, `span_id`, `principal`, `operation`; the access line adds `method`, `path`,
`status`, `duration_ms` and `error_code` / `error_codes`; an error with a stack trace adds `exception`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from contextql.resolvers import request_scope

# Attributes a record may carry (from RequestFields or `extra=`), in the order they are written.
FIELDS = ("request_id", "trace_id", "span_id", "principal", "operation", "method", "path", "status",
          "duration_ms", "error_code", "error_codes")


class RequestFields(logging.Filter):
    """Adds the current request's id, principal and operations, and the current trace, to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = request_scope.current()
        if scope is not None:
            _default(record, "request_id", scope.request_id)
            _default(record, "principal", scope.principal)
            _default(record, "operation", ",".join(scope.operations) or None)
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            _default(record, "trace_id", format(span.trace_id, "032x"))
            _default(record, "span_id", format(span.span_id, "016x"))
        return True


def _default(record: logging.LogRecord, name: str, value: Any) -> None:
    if value is not None and getattr(record, name, None) is None:
        setattr(record, name, value)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"timestamp": _timestamp(record), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`timestamp level logger [request id] message key=value...` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}{f' [{request_id}]' if request_id else ''} " \
               f"{record.getMessage()}"
        extras = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS[3:]
                          if getattr(record, name, None) is not None)
        if extras:
            line += " " + extras
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_format(setting: str) -> str:
    """`json` or `text`; `auto` is text when standard error is a terminal (a person is reading)."""
    if setting != "auto":
        return setting
    return "text" if sys.stderr.isatty() else "json"


def logging_config(level: str, format_setting: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server (uvicorn's `log_config`)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "contextql.server.logs.RequestFields"}},
        "formatters": {
            "json": {"()": "contextql.server.logs.JsonFormatter"},
            "text": {"()": "contextql.server.logs.TextFormatter"},
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": log_format(format_setting), "filters": ["request"]}},
        "root": {"handlers": ["stderr"], "level": level},
        # Uvicorn's loggers write through the root handler; its access log is replaced by ours.
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
