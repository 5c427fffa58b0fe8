"""The server's own refreshes: `analytics.refresh_seconds` in the policy (0: none; then
cron or a systemd timer runs `strongroom analytics refresh`).

A thread in each served process looks every minute whether the last release is older than
the interval, and refreshes if so. Several workers share one database: the build lock lets
one refresh at a time, and a worker that finds a fresh release (another just built it)
does nothing, so each interval gets one release. The first release is never made here:
`strongroom analytics build` is an operator's decision.
"""

from __future__ import annotations

import logging
import threading

from strongroom.analytics.desk import AnalyticsDesk
from strongroom.clock import Clock
from strongroom.context import Caller
from strongroom.errors import StrongroomError

log = logging.getLogger("strongroom.analytics")
CHECK_SECONDS = 60.0
SCHEDULER = Caller(
    principal_id="service:analytics-refresh",
    role="admin",
    purpose="administration",
    client_id="strongroom-server",
)


class AnalyticsScheduler:
    def __init__(self, desk: AnalyticsDesk, every: int, clock: Clock) -> None:
        self.desk = desk
        self.every = every
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._said: str | None = None

    def due(self) -> bool:
        last = self.desk.last_release()
        if last is None:
            self._say("no analytics release yet: `strongroom analytics build` makes the first")
            return False
        return self.clock.now() - last.built_at >= self.every

    def tick(self) -> bool:
        """Refresh if due; True when a release was made. Errors are logged, never raised:
        a failed refresh leaves the last release in place and is tried again."""
        try:
            if not self.due():
                return False
            report = self.desk.build(SCHEDULER, refresh=True)
        except StrongroomError as exc:
            self._say(f"analytics refresh skipped: {exc.detail}")
            return False
        self._said = None
        log.info("analytics release %d (%d cells suppressed)", report.release, report.suppressed)
        return True

    def _say(self, message: str) -> None:
        if message != self._said:  # once per condition, not every minute
            log.warning(message)
            self._said = message

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="analytics-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            self.tick()
