"""The server's log lines (strongroom/logs.py): JSON or text, the request's ID while one is
served, and an exception as its type and stack, never its message (a message can quote a
value: a KeyError names its key)."""

from __future__ import annotations

import json
import logging

from strongroom.context import REQUEST_ID
from strongroom.logs import JsonFormatter, TextFormatter


def record(msg: str = "lookup failed", *, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except BaseException as raised:  # noqa: BLE001 - captured for the record
            exc_info = (type(raised), raised, raised.__traceback__)
    r = logging.LogRecord("strongroom.gate", logging.ERROR, __file__, 1, msg, None, exc_info)
    r.route = "/v1/persons/{id}"  # an `extra` field
    return r


def test_a_json_line_carries_the_request_id_and_extra_fields() -> None:
    token = REQUEST_ID.set("5f0c9a1e2d3b4c5a6978877665544332")
    try:
        line = json.loads(JsonFormatter().format(record()))
    finally:
        REQUEST_ID.reset(token)
    assert line["request_id"] == "5f0c9a1e2d3b4c5a6978877665544332"
    assert (line["level"], line["logger"], line["msg"]) == (
        "error",
        "strongroom.gate",
        "lookup failed",
    )
    assert line["route"] == "/v1/persons/{id}"
    assert "request_id" not in json.loads(JsonFormatter().format(record()))  # none served


def test_an_exception_is_its_type_and_stack_never_its_message() -> None:
    r = record(exc=KeyError("SN-48213-X DUPONT"))
    line = json.loads(JsonFormatter().format(r))
    assert line["error"] == "KeyError"
    assert line["stack"] and line["stack"][-1].endswith(" in record")
    text = TextFormatter().format(r)
    assert "error=KeyError" in text and " in record" in text
    for out in (json.dumps(line), text):
        assert "SN-48213-X" not in out and "DUPONT" not in out
