"""The server's log: JSON lines (or text), each line carrying the ID of the request it was
written for.

Nothing that identifies a person or a weapon may reach a log, and the code logs names,
types and counts, never values. An exception is the exception's type and where it was
raised (file, line, function), never its message: a message can quote a value (a
`KeyError` names its key). `log_config` is the logging setup `strongroom serve` hands to
uvicorn, for itself and for every worker process.
"""

from __future__ import annotations

import logging
import time
import traceback
from types import TracebackType
from typing import Any

import orjson

from strongroom.context import REQUEST_ID

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a
# field of its line.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's own lines carry a copy with terminal colours
}
MAX_FRAMES = 12

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def request_id_of(record: logging.LogRecord) -> str | None:
    found = getattr(record, "request_id", None)
    return str(found) if found else REQUEST_ID.get()


def error_fields(exc_info: ExcInfo | tuple[None, None, None]) -> dict[str, Any]:
    kind, _, tb = exc_info
    if kind is None:
        return {}
    frames = traceback.extract_tb(tb)[-MAX_FRAMES:]
    return {
        "error": kind.__name__,
        "stack": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames],
    }


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, request_id (while a request is
    served), the record's `extra` fields, and for an exception its type and stack."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_of(record)
        if request_id:
            line["request_id"] = request_id
        line.update(extra_fields(record))
        if record.exc_info:
            line.update(error_fields(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`2026-05-01T10:00:00Z INFO strongroom.access [request ID] message key=value ...`,
    with an exception as its type and stack, like the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        request_id = request_id_of(record)
        parts = [stamp, record.levelname, record.name]
        if request_id:
            parts.append(f"[{request_id}]")
        parts.append(record.getMessage())
        parts.extend(f"{k}={v}" for k, v in extra_fields(record).items())
        text = " ".join(parts)
        if record.exc_info:
            err = error_fields(record.exc_info)
            if err:
                text += f" error={err['error']}\n  " + "\n  ".join(err["stack"])
        return text


FORMATTERS = {"json": JsonFormatter, "text": TextFormatter}


def log_config(log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server: uvicorn's loggers and Strongroom's at
    INFO, everything else at WARNING, all to stderr in `log_format`. uvicorn's access log
    stays silent: it would print request paths (Strongroom's own access lines name the
    route template instead)."""
    formatter = FORMATTERS[log_format]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"strongroom": {"()": f"{formatter.__module__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "strongroom",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "strongroom": {"level": "INFO"},
            "uvicorn": {"level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
