"""Findings to a webhook: the JSON body signed with HMAC-SHA256 (RFC 2104, via
`cryptography`), sent by a background thread with retries and exponential backoff, so no
request ever waits on the receiver.

Headers: `X-Strongroom-Timestamp: <unix seconds>` and
`X-Strongroom-Signature: sha256=<hex HMAC(key, timestamp + "." + body)>`; the receiver
recomputes it and refuses stale timestamps (replay). When the queue is full the oldest
finding is dropped and counted: an alert storm must not exhaust memory.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, hmac

from strongroom.detect.sinks import dumps

log = logging.getLogger(__name__)


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(timestamp.encode("ascii") + b"." + body)
    return "sha256=" + mac.finalize().hex()


def verify(key: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time check of a signature header (for receivers and tests)."""
    if not signature.startswith("sha256="):
        return False
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(timestamp.encode("ascii") + b"." + body)
    try:
        mac.verify(bytes.fromhex(signature[7:]))
    except Exception:  # noqa: BLE001 - InvalidSignature or malformed hex: both a no
        return False
    return True


class WebhookSink:
    def __init__(
        self,
        url: str,
        key: bytes,
        *,
        max_queue: int = 1000,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        if len(key) < 32:
            raise ValueError("a webhook signing key needs at least 32 bytes")
        self.url = url
        self._key = key
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._client = client or httpx.Client(timeout=timeout)
        self._thread = threading.Thread(target=self._run, name="detect-webhook", daemon=True)
        self._thread.start()

    def emit(self, finding: dict[str, Any]) -> None:
        body = dumps(finding).encode("utf-8")
        while True:
            try:
                self._queue.put_nowait(body)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._queue.task_done()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued finding was delivered or given up on."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            body = self._queue.get()
            try:
                if body is not None:
                    self._deliver(body)
            finally:
                self._queue.task_done()

    def _deliver(self, body: bytes) -> None:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Strongroom-Timestamp": ts,
                "X-Strongroom-Signature": sign(self._key, ts, body),
            }
            try:
                resp = self._client.post(self.url, content=body, headers=headers)
                if resp.status_code < 300:
                    self.sent += 1
                    return
                if resp.status_code < 500 and resp.status_code != 429:
                    break  # the receiver refuses it; retrying will not help
            except httpx.HTTPError as exc:
                log.info("webhook attempt %d failed: %s", attempt + 1, type(exc).__name__)
            if attempt < self.retries and self._stop.wait(delay):
                break
            delay = min(self.max_backoff, delay * 2)
        self.failed += 1
        log.warning("webhook gave up on a finding after %d attempts", attempt + 1)
