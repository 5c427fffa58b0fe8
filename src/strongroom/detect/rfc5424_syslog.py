"""Findings to syslog: RFC 5424 messages over UDP (RFC 5426), one datagram each.

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID PARAMS] BOM MSG

Facility 10 (authpriv); severity from the finding's OCSF severity. The structured element
uses the documentation enterprise number 32473 (RFC 5612) until one is assigned.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

from strongroom.detect.sinks import dumps

FACILITY_AUTHPRIV = 10
# OCSF severity_id -> syslog severity (RFC 5424 section 6.2.1).
SEVERITY = {5: 2, 4: 3, 3: 4, 2: 5, 1: 6, 0: 6}
MAX_DATAGRAM = 8192


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(
    finding: dict[str, Any], *, hostname: str, app: str = "strongroom", procid: str | None = None
) -> bytes:
    pri = FACILITY_AUTHPRIV * 8 + SEVERITY.get(int(finding.get("severity_id", 1)), 6)
    ts = datetime.fromtimestamp(finding.get("time", 0) / 1000, UTC)
    stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    info = finding.get("finding_info", {})
    sd = (
        f'[ocsf@32473 class_uid="{finding.get("class_uid")}" '
        f'activity_id="{finding.get("activity_id")}" '
        f'uid="{_sd_escape(str(info.get("uid", "-")))}"]'
    )
    header = f"<{pri}>1 {stamp} {hostname or '-'} {app} {procid or os.getpid()} finding {sd} "
    data = header.encode("utf-8") + b"\xef\xbb\xbf" + dumps(finding).encode("utf-8")
    return data[:MAX_DATAGRAM]


class SyslogSink:
    def __init__(self, host: str, port: int = 514, *, hostname: str | None = None) -> None:
        self.address = (host, port)
        self.hostname = hostname or socket.gethostname()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._lock = threading.Lock()

    def emit(self, finding: dict[str, Any]) -> None:
        msg = format_message(finding, hostname=self.hostname)
        with self._lock:
            self._sock.sendto(msg, self.address)

    def close(self) -> None:
        self._sock.close()
