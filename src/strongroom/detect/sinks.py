"""Where findings go: the `Sink` protocol and the JSON-lines file sink. A sink's `emit`
must never block a request for long; network sinks queue (see webhook.py) or send one
datagram (see rfc5424_syslog.py)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol


class Sink(Protocol):
    def emit(self, finding: dict[str, Any]) -> None: ...


def dumps(finding: dict[str, Any]) -> str:
    return json.dumps(finding, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class JsonLinesSink:
    """One finding per line, appended; the file is created mode 0600 (alerts name
    principals)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def emit(self, finding: dict[str, Any]) -> None:
        line = dumps(finding) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
