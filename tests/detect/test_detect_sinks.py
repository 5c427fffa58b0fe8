"""Findings leave the building: JSON lines, a signed webhook (real local HTTP server), and
RFC 5424 syslog (real local UDP socket). One incident, updated, not a flood."""

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from detect_testkit import CANARY, engine, event, only

from strongroom.clock import FakeClock
from strongroom.detect import JsonLinesSink, SyslogSink, WebhookSink
from strongroom.detect.rfc5424_syslog import format_message
from strongroom.detect.webhook import verify

KEY = os.urandom(32)


def _burst(clock, eng, n=200):
    for _ in range(n):
        eng.observe(event(clock))
        clock.advance(0.5)


def test_json_lines_one_incident_updated_not_a_flood(tmp_path) -> None:
    clock = FakeClock()
    path = tmp_path / "alerts.jsonl"
    sink = JsonLinesSink(path)
    eng = engine(clock, only({"velocity": {}}), sinks=[sink])
    _burst(clock, eng, n=400)  # ~190 signals over 200 s
    sink.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert 1 <= len(lines) <= 5
    assert {x["finding_info"]["uid"] for x in lines} == {lines[0]["finding_info"]["uid"]}
    assert lines[0]["class_uid"] == 2004 and lines[0]["activity_id"] == 1
    assert lines[0]["type_uid"] == 200401
    assert eng.incidents.open[("p-1", "volume")].count > 100  # signals, not findings
    assert lines[0]["actor"]["user"]["uid"] == "p-1"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


class _Receiver(BaseHTTPRequestHandler):
    calls: list = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        cls.calls.append((dict(self.headers), body))
        status = 503 if len(cls.calls) <= cls.fail_first else 204
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_webhook_signed_retried_and_never_blocking() -> None:
    _Receiver.calls = []
    _Receiver.fail_first = 2
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = WebhookSink(f"http://127.0.0.1:{server.server_port}/hook", KEY, backoff=0.01)
    try:
        clock = FakeClock()
        eng = engine(clock, only({"honey": {}}), sinks=[sink])
        eng.observe(event(clock, subjects=(CANARY,)))
        assert sink.flush(10)
    finally:
        sink.close()
        server.shutdown()
    assert len(_Receiver.calls) >= 3 and sink.sent >= 1
    headers, body = _Receiver.calls[-1]
    assert verify(KEY, headers["X-Strongroom-Timestamp"], body, headers["X-Strongroom-Signature"])
    assert not verify(
        os.urandom(32), headers["X-Strongroom-Timestamp"], body, headers["X-Strongroom-Signature"]
    )
    assert not verify(
        KEY, headers["X-Strongroom-Timestamp"], body + b" ", headers["X-Strongroom-Signature"]
    )
    doc = json.loads(body)
    assert doc["class_uid"] == 2004 and doc["severity_id"] == 5


def test_webhook_gives_up_on_an_unreachable_receiver_without_blocking() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    sink = WebhookSink(f"http://127.0.0.1:{port}/", KEY, retries=2, backoff=0.01)
    sink.emit({"class_uid": 2004})
    assert sink.flush(10)
    sink.close()
    assert sink.failed == 1 and sink.sent == 0


def test_syslog_rfc5424_over_udp() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    sink = SyslogSink("127.0.0.1", rx.getsockname()[1], hostname="worker-1")
    try:
        clock = FakeClock()
        eng = engine(clock, only({"honey": {}}), sinks=[sink])
        eng.observe(event(clock, subjects=(CANARY,)))
        data, _ = rx.recvfrom(65_535)
    finally:
        sink.close()
        rx.close()
    head, _, msg = data.partition(b"\xef\xbb\xbf")
    fields = head.decode().split(" ", 6)
    assert fields[0] == "<82>1"  # authpriv (10) * 8 + critical (2)
    assert fields[1] == "2026-01-01T00:00:00.000Z"
    assert fields[2:4] == ["worker-1", "strongroom"] and fields[5] == "finding"
    assert fields[6].startswith('[ocsf@32473 class_uid="2004" activity_id="1" uid="')
    assert json.loads(msg)["finding_info"]["types"] == ["honey"]


def test_syslog_structured_data_is_escaped() -> None:
    msg = format_message(
        {"severity_id": 2, "time": 0, "class_uid": 2004, "finding_info": {"uid": 'a"b]c'}},
        hostname="h",
    )
    assert b'uid="a\\"b\\]c"' in msg
